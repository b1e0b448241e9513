"""Default settings: development, tests and the embedded demo. Production: ``pushadmin.settings.production``."""

from .base import *  # noqa: F401,F403
