"""Settings per environment; choose one with ``DJANGO_SETTINGS_MODULE``.

- ``pushadmin.settings.local``: development and the demo (the default of ``manage.py``, Celery
  and ``bin/demo``): adds the demo and simulation apps, a development secret and static files
  served without ``collectstatic``.
- ``pushadmin.settings.test``: pytest (``pyproject.toml``).
- ``pushadmin.settings.production``: a deployment (the default of ``pushadmin.wsgi``): requires
  ``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS``, hardened, collected static files.

All build on ``base``, which reads the environment. This package imports nothing: it runs
before whichever module is chosen.
"""
