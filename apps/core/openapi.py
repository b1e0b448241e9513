"""How the API describes itself: drf-spectacular's schema, made exact enough for generated clients.

``AutoSchema`` (the ``DEFAULT_SCHEMA_CLASS``) adds to drf-spectacular's inference what a client
generated from ``/api/schema/`` needs to trust every answer:

- **Every error answer, one shape.** Each operation documents the error statuses it can give
  (401 and 429 always, 400/413/415 with a body, 400 on lists with filters or a cursor, 404 with a
  path parameter), all as the ``Error`` component of ``apps.core.errors``; 429 with ``Retry-After``.
- **Responses say what is always there.** In a response every property is required unless the
  serializer names it in ``optional_in_response`` (the server always sends every field; a missing
  one would be a bug, not an option).
- **Blank strings are one branch.** Where drf-spectacular writes ``oneOf: [string with a format or
  pattern, string of length 0]``, the first branch gets ``minLength: 1`` so a blank value matches
  exactly one branch, and a default of ``''`` moves out of the branch whose pattern it fails.
- **Request bodies are closed.** ``additionalProperties: false``: an unknown field is a 400
  ``unknown_field``, never silently dropped.
- **Batch arrays are bounded.** A list serializer's ``min_length``/``max_length`` become
  ``minItems``/``maxItems``.
"""

from __future__ import annotations

from drf_spectacular import openapi
from rest_framework import serializers

from apps.core.errors import ErrorSerializer

BLANK_BRANCH = {"type": "string", "maxLength": 0}

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `field` names the first offending field (a path such as `events[3].type` inside "
           "batches) and `errors` lists every problem. Also a malformed body, cursor or filter.",
    "401": "No API key, or an unknown, revoked or malformed one.",
    "404": "No such object for this client, or a path parameter outside its documented pattern.",
    "413": "The body is larger than the server's limit, or the batch holds more items than `maxItems`.",
    "415": "The body is not `application/json`.",
    "429": "Over the client's request rate; retry after `Retry-After` seconds.",
}

RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
        "description": "Seconds until the client's next rate window opens.",
    }
}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code in responses:
                continue
            response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
            response["description"] = ERROR_DESCRIPTIONS[code]
            if code == "429":
                response["headers"] = RETRY_AFTER
            responses[code] = response
        return responses

    def _error_codes(self) -> list[str]:
        codes = ["400"] if self._takes_input() else []
        if self._has_body():
            codes += ["413", "415"]
        if self.get_auth():
            codes.append("401")
        if any("{" in part for part in self.path.split("/")):
            codes.append("404")
        if getattr(self.view, "throttle_classes", None):
            codes.append("429")
        return sorted(set(codes))

    def _has_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")

    def _takes_input(self) -> bool:
        """A body, or query parameters that are validated (filters, a cursor)."""
        if self._has_body():
            return True
        return self.method == "GET" and self._is_list_view() and (
            self._get_paginator() is not None or getattr(self.view, "filterset_class", None) is not None)

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            schema["additionalProperties"] = False  # the API refuses a field it does not know (unknown_field)
        if direction == "response":
            optional = set(getattr(serializer, "optional_in_response", ()))
            required = [name for name in schema.get("properties", {}) if name not in optional]
            if required:
                schema["required"] = sorted(required)
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListSerializer):
            if field.min_length is not None:
                schema["minItems"] = field.min_length
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)  # where the blank branch is added
        _one_blank_branch(schema)


def _one_blank_branch(schema: dict) -> dict:
    branches = schema.get("oneOf")
    if not branches or BLANK_BRANCH not in branches:
        return schema
    for branch in branches:
        if branch == BLANK_BRANCH or branch.get("type") != "string":
            continue
        branch["minLength"] = max(1, branch.get("minLength", 0))
        if branch.get("default") == "":
            del branch["default"]
            schema["default"] = ""
    return schema


def enum_parameters_as_components(result, generator, request, public):
    """A postprocessing hook: a query parameter whose values are exactly those of an enum component
    (``?status=`` of the contents, ``?state=`` of the campaigns) refers to that component, so a
    generated client has one type for a content's status whether it reads it or filters by it."""
    components = {tuple(sorted(map(str, schema["enum"]))): name
                  for name, schema in result.get("components", {}).get("schemas", {}).items()
                  if "enum" in schema and schema.get("type") == "string"}
    for item in result.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                holder = schema.get("items", schema) if schema.get("type") == "array" else schema
                name = components.get(tuple(sorted(map(str, holder.get("enum", [])))))
                if name and "enum" in holder:
                    holder.clear()
                    holder["$ref"] = f"#/components/schemas/{name}"
    return result
