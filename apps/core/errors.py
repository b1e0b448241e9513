"""One error shape for the whole API: ``{"status", "code", "field", "message", "errors"}``.

``field`` names the first offending field (a path such as ``subscribers[3].timezone`` inside
batches) and ``errors`` lists every problem in the same shape.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.signals import got_request_exception
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error a service or view raises on purpose, with the field it concerns."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, status_code: int | None = None):
        super().__init__(detail=message, code=code or self.default_code)
        self.field = field
        if status_code is not None:
            self.status_code = status_code


class BatchInvalid(ApiError):
    """Several items of a batch are invalid: all of them are listed in ``errors``."""

    def __init__(self, errors: list[dict]):
        first = errors[0]
        super().__init__(first["message"], field=first["field"], code=first["code"])
        self.errors = errors


class PayloadTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def _flatten(detail, path: str = "") -> list[dict]:
    """Turn DRF's nested error detail into a flat list of {field, code, message}."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            out += _flatten(value, f"{path}.{name}" if path and name else (path or name))
    elif isinstance(detail, list):
        if detail and all(isinstance(d, exceptions.ErrorDetail) or isinstance(d, str) for d in detail):
            for d in detail:
                out.append({"field": path or None, "code": getattr(d, "code", "invalid"), "message": str(d)})
        else:
            for i, value in enumerate(detail):
                if value:
                    out += _flatten(value, f"{path}[{i}]")
    else:
        out.append({"field": path or None, "code": getattr(detail, "code", "invalid"), "message": str(detail)})
    return out


def error_body(status_code: int, errors: list[dict]) -> dict:
    first = errors[0] if errors else {"field": None, "code": "error", "message": "Error."}
    return {"status": status_code, "code": first["code"], "field": first["field"], "message": first["message"], "errors": errors}


def api_exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(f"The request body is larger than the limit of {_max_body()} bytes.", field=None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        log.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        # The standard signal for unhandled errors: error reporters and the test suite listen to it.
        got_request_exception.send(sender=None, request=context.get("request"))
        return Response(
            error_body(500, [{"field": None, "code": "server_error", "message": "Internal error; it has been logged."}]),
            status=500,
        )

    if isinstance(exc, ApiError):
        errors = getattr(exc, "errors", None) or [{"field": exc.field, "code": exc.detail.code, "message": str(exc.detail)}]
    elif isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        errors = [{"field": None, "code": getattr(detail, "code", exc.__class__.__name__.lower()), "message": str(detail)}]
    response.data = error_body(response.status_code, errors)
    return response


def _max_body() -> int:
    from django.conf import settings

    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="The offending field, e.g. `title` or `events[3].type`; null when the whole request is at fault.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. `required`, `invalid`, `too_large`.")
    message = serializers.CharField(help_text="What is wrong, for people.")


class ErrorSerializer(serializers.Serializer):
    """Every error answer of the API."""

    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="The first error's code.")
    field = serializers.CharField(allow_null=True, help_text="The first error's field.")
    message = serializers.CharField(help_text="The first error's message.")
    errors = ErrorItemSerializer(many=True, help_text="Every problem found, the first one included.")
