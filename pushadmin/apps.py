from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project itself as an installed app: to load the Celery app once the settings are
    chosen, so that tasks sent from any Django process (web, commands, tests) go to its broker
    (the package does not import it: ``pushadmin.celery`` picks a default settings module), and
    to register the checks of the whole (``pushadmin.checks``)."""

    name = "pushadmin"
    label = "project"
    verbose_name = "pushadmin"

    def ready(self):
        from django.core import checks

        import pushadmin.celery  # noqa: F401
        from pushadmin.checks import event_retention_check

        checks.register(event_retention_check)
