"""The one clock. Services take ``now`` as an argument and default to this, so tests and the
simulator move time instead of sleeping.

For the live demo the clock can run faster than real time: with ``PUSHADMIN_CLOCK_SPEED=60`` and
``PUSHADMIN_CLOCK_EPOCH`` (the real moment the demo started) set, one real minute later is one
hour of product time, so evaluation delays, observation windows and the 7-day slot all pass 60
times faster. Product time starts at ``PUSHADMIN_CLOCK_START`` (default: the epoch).
"""

from django.conf import settings
from django.utils import timezone


def now():
    real = timezone.now()
    speed = settings.PUSHADMIN.get("CLOCK_SPEED", 1)
    if speed == 1:
        return real
    epoch = settings.PUSHADMIN["CLOCK_EPOCH"]
    return settings.PUSHADMIN.get("CLOCK_START", epoch) + (real - epoch) * speed
