"""Cursor pages whose cursor is decoded defensively: anything but a cursor this API gave out is a
400 on the ``cursor`` parameter, never a database error.

DRF's cursor is base64 of ``o=<offset>&r=<reverse>&p=<position>``; DRF decodes it leniently
(characters outside base64 are dropped) and puts the position (here a ``created_at``) straight into
the query, so ``p=notadate`` or a year-9999 date reached the database. Here the base64 must be
strict, the parts known, and the position valid by the ordering field's own rules (date-times by
those of ``apps.core.validation``), all before any query.
"""

from __future__ import annotations

from base64 import b64decode
from urllib.parse import parse_qs

from django.core.exceptions import ValidationError
from django.db import models
from rest_framework.pagination import Cursor, CursorPagination

from apps.core.errors import ApiError
from apps.core.validation import Invalid, clean_datetime


class InvalidCursor(ApiError):
    default_code = "invalid_cursor"


class SafeCursorPagination(CursorPagination):
    invalid_cursor_message = "Not a cursor this API gave out; use the 'next' or 'previous' link of a page, or start without one."

    def paginate_queryset(self, queryset, request, view=None):
        self._position_field = queryset.model._meta.get_field(self.ordering[0].lstrip("-"))
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None
        try:
            querystring = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse_qs(querystring, keep_blank_values=True, strict_parsing=bool(querystring))
            if set(tokens) - {"o", "r", "p"} or any(len(v) != 1 for v in tokens.values()):
                raise ValueError("unknown or repeated part")
            offset = int(tokens.get("o", ["0"])[0])
            reverse = tokens.get("r", ["0"])[0]
            if offset < 0 or reverse not in ("0", "1"):
                raise ValueError("bad offset or direction")
        except (TypeError, ValueError):  # binascii.Error and UnicodeError are ValueErrors
            raise self._invalid() from None
        position = tokens.get("p", [None])[0]
        return Cursor(offset=min(offset, self.offset_cutoff), reverse=reverse == "1",
                      position=None if position is None else self._position(position))

    def _position(self, raw: str):
        field = self._position_field
        try:
            if isinstance(field, models.DateTimeField):
                return clean_datetime(raw)
            return field.to_python(raw)
        except (Invalid, ValidationError, ValueError, TypeError):
            raise self._invalid() from None

    def _invalid(self) -> InvalidCursor:
        return InvalidCursor(self.invalid_cursor_message, field=self.cursor_query_param)
