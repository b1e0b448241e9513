"""What the API accepts from clients, in one place: text, date-times, integers, cursors, JSON depth.

Every value a client sends is checked here before a service or the database sees it, so that a
value the database would refuse (or store and choke on later) is a 400 naming the field instead of
a 500, the same way on SQLite and PostgreSQL:

- **text** is valid Unicode that UTF-8 can encode (no lone surrogates such as ``"\\ud800"``, which
  JSON can spell but neither database can store) and has no NUL character (PostgreSQL refuses it);
- **date-times** carry a UTC offset within +-15:59 (PostgreSQL's limit) and lie, once converted to
  UTC, between ``DATETIME_MIN`` and ``DATETIME_MAX``: far enough from year 1 and year 9999 that
  adding a lifetime, a delay or a cap window never overflows Python's or the database's range;
- **integers** fit the column (``BIGINT_MAX`` for ids);
- **JSON bodies** nest at most ``MAX_JSON_DEPTH`` levels, checked before parsing
  (``apps.core.parsers``);
- **cursors** of list endpoints are decoded defensively (``apps.core.pagination``).

``Invalid`` carries a code and a message; the batch validator (``apps.core.batch``) turns it into
an item error, the DRF fields below into a field error.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone
from itertools import accumulate
from typing import Any

from django import forms
from rest_framework import serializers

UTC = dt_timezone.utc
DATETIME_MIN = datetime(1900, 1, 1, tzinfo=UTC)
DATETIME_MAX = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)
BIGINT_MAX = 2**63 - 1
MAX_JSON_DEPTH = 32

_RANGE_TEXT = "between 1900-01-01T00:00:00Z and 2999-12-31T23:59:59Z"
DATETIME_FORMAT_HINT = "Must be an ISO-8601 date-time such as 2026-11-28T09:30:00Z."


class Invalid(ValueError):
    """A value the API does not accept: ``code`` is machine-readable, ``message`` says why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


# --- Text ------------------------------------------------------------------------------------------

def clean_text(value: Any) -> str:
    """``value`` if it is a string UTF-8 can encode and without NUL; ``Invalid`` otherwise."""
    if not isinstance(value, str):
        raise Invalid("invalid", "Must be a string.")
    if "\x00" in value:
        raise Invalid("null_characters_not_allowed", "Null characters are not allowed.")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Invalid("surrogate_characters_not_allowed",
                          f"Surrogate characters are not allowed: U+{ord(value[exc.start]):X}.") from None
    return value


def is_clean_text(value: Any) -> bool:
    try:
        clean_text(value)
    except Invalid:
        return False
    return True


def printable(value: Any, limit: int = 40) -> str:
    """A client's string made safe to echo in an answer: cut to ``limit`` characters, and lone
    surrogates written as ``\\udxxx`` (the answer is UTF-8, which cannot carry them)."""
    return str(value)[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


# --- Date-times ------------------------------------------------------------------------------------

def unknown_fields(data: dict, known) -> list[str]:
    """The keys of ``data`` that are not in ``known``, sorted and printable (a key may hold a lone
    surrogate): a request naming a field the API does not have is refused, never read as absent."""
    return sorted(printable(name, 64) for name in set(data) - set(known))


def clean_datetime(value: Any) -> datetime:
    """An ISO-8601 string (or a datetime) as an aware datetime in UTC within the supported range.

    A value without an offset is taken as UTC."""
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)  # accepts 'Z' on Python 3.11
        except ValueError:
            raise Invalid("invalid", DATETIME_FORMAT_HINT) from None
    elif isinstance(value, datetime):
        dt = value
    else:
        raise Invalid("invalid", DATETIME_FORMAT_HINT)
    if dt.tzinfo is not UTC:  # (the parser gives UTC itself for 'Z' and +00:00: the common case costs nothing)
        offset = dt.utcoffset()
        if offset is None:
            dt = dt.replace(tzinfo=UTC)
        elif abs(offset) > MAX_UTC_OFFSET:
            raise Invalid("out_of_range", f"The UTC offset must lie within -15:59 and +15:59, got {_offset_text(offset)}.")
        else:
            try:
                dt = dt.astimezone(UTC)
            except OverflowError:
                raise Invalid("out_of_range", f"Must lie {_RANGE_TEXT} once converted to UTC.") from None
    if not DATETIME_MIN <= dt <= DATETIME_MAX:
        raise Invalid("out_of_range", f"Must lie {_RANGE_TEXT} once converted to UTC.")
    return dt


def _offset_text(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    seconds = int(abs(offset).total_seconds())
    text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}"
    return text + f":{seconds % 60:02d}" if seconds % 60 else text


# --- Integers --------------------------------------------------------------------------------------

def clean_int(value: Any, *, min_value: int = 1, max_value: int = BIGINT_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("invalid", "Must be an integer.")
    if value < min_value:
        raise Invalid("min_value", f"Must be at least {min_value}.")
    if value > max_value:
        raise Invalid("max_value", f"Must be at most {max_value}.")
    return value


# --- JSON depth ------------------------------------------------------------------------------------

_KEEP_ONLY_QUOTES_AND_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_CHUNK = 1 << 14


def json_depth(text: str | bytes, *, stop_above: int | None = None) -> int:
    """How deep the arrays and objects of a JSON text nest (0 for a scalar), without parsing it.

    Escaped backslashes and quotes are dropped, then everything but quotes and brackets; what lies
    between a pair of the quotes left was inside a string and is dropped too; the brackets left
    are counted. All but the last step run in C, the whole is linear in the text's length and
    free of recursion, so it is safe on any input, well-formed or not. With ``stop_above``,
    counting stops as soon as the depth exceeds it (and returns that depth).
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    # UTF-8 never uses bytes below 0x80 inside a multi-byte character, so these are the JSON's own.
    raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(raw.translate(None, _KEEP_ONLY_QUOTES_AND_BRACKETS).split(b'"')[::2])
    depth = deepest = 0
    for start in range(0, len(outside_strings), _CHUNK):
        chunk = outside_strings[start:start + _CHUNK]
        deepest = max(deepest, max(accumulate(map(_STEP.__getitem__, chunk), initial=depth)))
        depth += chunk.count(b"[") + chunk.count(b"{") - chunk.count(b"]") - chunk.count(b"}")
        if stop_above is not None and deepest > stop_above:
            break
    return deepest


# --- The same rules as DRF and form fields ---------------------------------------------------------

class DateTimeField(serializers.DateTimeField):
    """DRF's date-time field with this module's rules: offset within +-15:59, converted to UTC,
    within the supported range."""

    def to_internal_value(self, value):
        try:
            return clean_datetime(value)
        except Invalid as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None


class DateTimeFormField(forms.DateTimeField):
    """The same for query filters (django-filter), such as ``created_after``."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return clean_datetime(value.strip() if isinstance(value, str) else value)
        except Invalid as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


__all__ = [
    "BIGINT_MAX", "DATETIME_MAX", "DATETIME_MIN", "DateTimeField", "DateTimeFormField", "Invalid", "MAX_JSON_DEPTH",
    "MAX_UTC_OFFSET", "clean_datetime", "clean_int", "clean_text", "is_clean_text", "json_depth", "printable",
]
