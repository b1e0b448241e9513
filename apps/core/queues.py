"""The Celery queues, named in one place: ``default`` (the sweep, roll-ups), ``sends`` (the
dispatcher) and ``ml`` (training, one at a time). The Celery app routes by them; health reports
their depths."""

from enum import StrEnum


class Queue(StrEnum):
    DEFAULT = "default"
    SENDS = "sends"
    ML = "ml"
