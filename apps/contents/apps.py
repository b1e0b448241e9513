from django.apps import AppConfig


class ContentsConfig(AppConfig):
    name = "apps.contents"
    label = "contents"
