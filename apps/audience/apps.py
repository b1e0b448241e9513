from django.apps import AppConfig


class AudienceConfig(AppConfig):
    name = "apps.audience"
    label = "audience"
