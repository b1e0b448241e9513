"""Fast validation of large JSON batches (events, subscribers), and their OpenAPI schema.

DRF serializers cost tens of microseconds per field; a batch of 10,000 items would spend most of
its time there. A batch item is instead checked against a small declarative spec by plain Python,
and the same spec builds the serializer that documents it in the OpenAPI schema, so the two
cannot drift apart. Errors name the field (``events[12].type``) and the reason.

The values themselves are checked by ``apps.core.validation``, the one set of rules of the API:
every string is valid UTF-8 without NUL, every date-time within the supported range once in UTC,
every integer within its column. An item that passes is safe to hand to either database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rest_framework import serializers

from apps.core import validation
from apps.core.validation import BIGINT_MAX, Invalid, clean_datetime, clean_int, clean_text, printable, unknown_fields

_MISSING = object()


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # str | bool | int | datetime | choice | timezone
    required: bool = False
    max_length: int | None = None
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False
    max_value: int = BIGINT_MAX
    help: str = ""

    def serializer_field(self) -> serializers.Field:
        common = {"required": self.required, "help_text": self.help or None, "allow_null": self.nullable}
        match self.kind:
            case "str":
                if self.pattern:
                    return serializers.RegexField(self.pattern, max_length=self.max_length, **common)
                return serializers.CharField(max_length=self.max_length, **common)
            case "bool":
                return serializers.BooleanField(**common)
            case "int":
                return serializers.IntegerField(min_value=1, max_value=self.max_value, **common)
            case "datetime":
                return validation.DateTimeField(**common)
            case "choice":
                return serializers.ChoiceField(choices=list(self.choices), **common)
            case "timezone":
                return serializers.CharField(max_length=64, **common)
        raise ValueError(self.kind)


class ItemError(Exception):
    def __init__(self, field: str, code: str, message: str):
        super().__init__(message)
        self.field, self.code, self.message = field, code, message


def validate_item(item: Any, spec: tuple[Field, ...], *, path: str) -> dict:
    """Check one batch item against ``spec``; raise ``ItemError`` naming the first bad field."""
    if not isinstance(item, dict):
        raise ItemError(path, "invalid", "Each item must be a JSON object.")
    unknown = unknown_fields(item, _names(spec))
    if unknown:
        raise ItemError(f"{path}.{unknown[0]}", "unknown_field", f"Unknown field '{unknown[0]}'.")
    out: dict = {}
    for f in spec:
        value = item.get(f.name, _MISSING)
        where = f"{path}.{f.name}"
        if value is _MISSING:
            if f.required:
                raise ItemError(where, "required", "This field is required.")
            continue
        if value is None:
            if f.nullable:
                out[f.name] = None
                continue
            raise ItemError(where, "null", "This field may not be null.")
        out[f.name] = _check(f, value, where)
    return out


_NAMES: dict[int, frozenset[str]] = {}


def _names(spec: tuple[Field, ...]) -> frozenset[str]:
    # Keyed by identity: specs are module constants, and hashing one per item would cost more
    # than checking the item.
    names = _NAMES.get(id(spec))
    if names is None:
        names = _NAMES[id(spec)] = frozenset(f.name for f in spec)
    return names


@lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _check(f: Field, value: Any, where: str):
    try:
        return _CHECKS[f.kind](f, value)
    except Invalid as e:
        raise ItemError(where, e.code, e.message) from None


def _check_str(f: Field, value: Any) -> str:
    clean_text(value)
    if f.required and not value:
        raise Invalid("blank", "This field may not be blank.")
    if f.max_length is not None and len(value) > f.max_length:
        raise Invalid("max_length", f"At most {f.max_length} characters, got {len(value)}.")
    if f.pattern and not _regex(f.pattern).fullmatch(value):
        raise Invalid("invalid", f"Must match {f.pattern}.")
    return value


def _check_choice(f: Field, value: Any) -> str:
    clean_text(value)
    if value not in f.choices:
        raise Invalid("invalid_choice", f"'{printable(value)}' is not one of: {', '.join(f.choices)}.")
    return value


def _check_bool(f: Field, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("invalid", "Must be true or false.")
    return value


def _check_int(f: Field, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid("invalid", "Must be a positive integer.")
    return clean_int(value, max_value=f.max_value)


def _check_datetime(f: Field, value: Any) -> datetime:
    return clean_datetime(value)


def _check_timezone(f: Field, value: Any) -> str:
    clean_text(value)
    if value not in _zones():
        raise Invalid("invalid", f"'{printable(value)}' is not an IANA time zone such as Asia/Seoul.")
    ZoneInfo(value)
    return value


_CHECKS = {"str": _check_str, "choice": _check_choice, "bool": _check_bool, "int": _check_int,
           "datetime": _check_datetime, "timezone": _check_timezone}


def batch_items(data: Any, *, key: str, limit: int) -> list:
    """The list under ``key`` of a batch request body, or a 400/413 that says what is wrong."""
    from apps.core.errors import ApiError, PayloadTooLarge

    if not isinstance(data, dict) or key not in data:
        raise ApiError(f"The body must be a JSON object with a list '{key}'.", field=key, code="required")
    unknown = unknown_fields(data, {key})
    if unknown:
        raise ApiError(f"Unknown field '{unknown[0]}': the body holds only '{key}'.", field=unknown[0], code="unknown_field")
    items = data[key]
    if not isinstance(items, list):
        raise ApiError(f"'{key}' must be a list.", field=key)
    if not items:
        raise ApiError(f"'{key}' must not be empty.", field=key, code="empty")
    if len(items) > limit:
        raise PayloadTooLarge(f"At most {limit} {key} per request, got {len(items)}.", field=key)
    return items


def serializer_for(name: str, spec: tuple[Field, ...]) -> type[serializers.Serializer]:
    """A serializer class with the spec's fields, for the OpenAPI schema."""
    return type(name, (serializers.Serializer,), {f.name: f.serializer_field() for f in spec})


__all__ = ["Field", "ItemError", "validate_item", "batch_items", "serializer_for", "ZoneInfoNotFoundError"]
