import pytest


@pytest.fixture(autouse=True)
def _template_library(transactional_db):
    """The migration's title templates, which other tests' flushes remove from the database."""
    import importlib

    from django.apps import apps

    from apps.contents.models import TitleTemplate

    if not TitleTemplate.objects.exists():
        importlib.import_module("apps.contents.migrations.0004_seed_title_templates").seed(apps, None)
