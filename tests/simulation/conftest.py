import pytest

# The simulator in one process: its database work is the engine's, whose SQL runs on both
# databases in test_two_clients; the long simulations run in the SQLite pass only.
SIMULATOR_ONCE = pytest.mark.one_database(
    "sqlite", "the simulator in process; the engine's SQL runs on both in test_two_clients")


@pytest.fixture(autouse=True)
def _template_library(transactional_db):
    """The migration's title templates, which other tests' flushes remove from the database."""
    import importlib

    from django.apps import apps

    from apps.contents.models import TitleTemplate

    if not TitleTemplate.objects.exists():
        importlib.import_module("apps.contents.migrations.0004_seed_title_templates").seed(apps, None)
