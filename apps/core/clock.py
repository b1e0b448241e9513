"""The one clock. Services take ``now`` as an argument and default to this, so tests and the
simulator move time instead of sleeping."""

from django.utils import timezone


def now():
    return timezone.now()
