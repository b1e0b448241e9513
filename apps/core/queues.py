"""The Celery queues, named in one place: ``default`` (the sweep, roll-ups), ``sends`` (the
dispatcher), ``ml`` (training, one at a time) and ``shards`` (parts of a large ranking or pricing
job, ``apps.mlops.shards``). The Celery app routes by them; health reports
their depths."""

from enum import StrEnum


class Queue(StrEnum):
    DEFAULT = "default"
    SENDS = "sends"
    ML = "ml"
    SHARDS = "shards"
