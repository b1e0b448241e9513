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
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.response import Response

from apps.core.errors import ApiError
from apps.core.validation import Invalid, clean_datetime


class InvalidCursor(ApiError):
    default_code = "invalid_cursor"


class SafeCursorPagination(CursorPagination):
    """Also gives the cursors themselves (``next_cursor``, ``previous_cursor``) beside the links, so
    a client passes ``cursor=`` without parsing a URL."""

    cursor_query_description = ("Opaque position in the list: the `next_cursor` or `previous_cursor` of the page "
                                "before (also inside its `next`/`previous` links). Omit it for the first page.")
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


    def get_page_size(self, request):
        """``page_size`` from 1 to ``max_page_size`` (larger ones give pages of the maximum); anything
        else is a 400 on ``page_size``, not a silent fall back to the default."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ApiError(f"'page_size' must be a whole number from 1 (up to {self.max_page_size}).",
                           field=self.page_size_query_param, code="invalid")
        return min(size, self.max_page_size)

    def get_paginated_response(self, data):
        next_link, previous_link = self.get_next_link(), self.get_previous_link()
        return Response({"next": next_link, "previous": previous_link,
                         "next_cursor": self._cursor_of(next_link), "previous_cursor": self._cursor_of(previous_link),
                         "results": data})

    def _cursor_of(self, link: str | None) -> str | None:
        if link is None:
            return None
        return parse_qs(urlsplit(link).query).get(self.cursor_query_param, [None])[0]

    def get_paginated_response_schema(self, schema):
        def nullable(description: str, **extra) -> dict:
            return {"type": ["string", "null"], "description": description, **extra}

        return {
            "type": "object",
            "required": ["next", "previous", "next_cursor", "previous_cursor", "results"],
            "properties": {
                "next": nullable("The next page's URL; null on the last page.", format="uri"),
                "previous": nullable("The previous page's URL; null on the first page.", format="uri"),
                "next_cursor": nullable("The `cursor` parameter for the next page; null on the last page."),
                "previous_cursor": nullable("The `cursor` parameter for the previous page; null on the first page."),
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
                parameter["description"] = (f"Rows per page, {self.page_size} by default; above {self.max_page_size} "
                                            "gives pages of that many.")
        return parameters
