"""``python -m recsys.ramp simulate | table | coverage`` (see :mod:`recsys.ramp.cli`)."""

from recsys.ramp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
