from django.apps import AppConfig


class DemoConfig(AppConfig):
    """What only the demo uses: the demo world and accounts (``demo_setup``) and the live world
    that drives a running pushadmin through its REST API (``demo_live``). No models. Installed by
    the local and test settings, never in production."""

    name = "apps.demo"
    label = "demo"
    verbose_name = "Demo"
