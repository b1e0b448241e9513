from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core: clients, people, decisions"

    def ready(self):
        # The Celery app, so that tasks sent from this process (web, commands, tests) go to its
        # broker. Loaded here, once the settings module is chosen, not by the pushadmin package.
        import pushadmin.celery  # noqa: F401
