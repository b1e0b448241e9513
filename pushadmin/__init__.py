"""The project: settings, urls, the Celery app, the WSGI application.

Importing this package chooses nothing: each entry point names its default settings module
(``manage.py`` and ``pushadmin.celery``: local; ``pushadmin.wsgi``: production), so the package
must not import the Celery app, which would choose first. Django processes load the Celery app
when the project's app config is ready (``pushadmin.apps``); ``celery -A pushadmin`` finds ``pushadmin.celery`` by itself.
"""
