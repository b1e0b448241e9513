from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project itself as an installed app, only to load the Celery app once the settings are
    chosen, so that tasks sent from any Django process (web, commands, tests) go to its broker.
    (The package does not import it: ``pushadmin.celery`` picks a default settings module.)"""

    name = "pushadmin"
    label = "project"
    verbose_name = "pushadmin"

    def ready(self):
        import pushadmin.celery  # noqa: F401
