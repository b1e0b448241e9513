"""Fixtures of the API tests."""

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections


@pytest.fixture
def in_process_requests():
    """Requests sent through the WSGI application in this process (schemathesis, a generated
    client over httpx) run inside the test's transaction: Django closes "old" connections at the
    start and end of every request, which would end that transaction (its own test client does
    the same)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)
