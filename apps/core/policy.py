"""The business rules of a client, and their defaults, in one module."""

from datetime import timedelta

# One content push per person per rolling window: the slot.
CAP_WINDOW = timedelta(days=7)
