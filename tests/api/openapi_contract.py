"""A strict check of real API answers against the OpenAPI document the server publishes.

For one answer: the status must be documented for the operation, the media type too, the body must
validate against the documented schema (JSON Schema 2020-12 as OpenAPI 3.1 uses it, formats
checked), and every documented required header must be present and valid. "Strict": every object
schema with properties is closed (``additionalProperties: false`` unless it says otherwise), so an
undocumented field in an answer fails as surely as a missing one.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:pushadmin:openapi"


def closed(node):
    """The document with every object schema that lists properties closed to others."""
    if isinstance(node, dict):
        out = {k: closed(v) for k, v in node.items()}
        if isinstance(out.get("properties"), dict) and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [closed(v) for v in node]
    return node


def _pointer(*parts: str) -> str:
    return "".join("/" + quote(p.replace("~", "~0").replace("/", "~1"), safe="~") for p in parts)


@dataclass
class Contract:
    document: dict
    checked: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self):
        self._strict = closed(copy.deepcopy(self.document))
        resource = Resource.from_contents(self._strict, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(DOC_URI, resource)
        self._templates = [(self._regex(path), path) for path in self.document["paths"]]

    @staticmethod
    def _regex(template: str) -> re.Pattern:
        return re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")

    def operation(self, method: str, path: str) -> tuple[str, dict]:
        for regex, template in self._templates:
            if regex.match(path):
                operation = self.document["paths"][template].get(method.lower())
                if operation is None:
                    raise AssertionError(f"{method} {template} is not documented")
                return template, operation
        raise AssertionError(f"no documented path matches {path}")

    def _validate(self, pointer: str, value, what: str) -> None:
        validator = OAS31Validator({"$ref": DOC_URI + "#" + pointer}, registry=self._registry,
                                   format_checker=OAS31Validator.FORMAT_CHECKER)
        problems = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        if problems:
            lines = [f"  at {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in problems[:10]]
            raise AssertionError(f"{what} does not match the schema:\n" + "\n".join(lines))

    def check(self, method: str, path: str, response) -> dict | None:
        """Checks one Django/DRF test response (or anything with status_code, headers and content);
        returns the parsed body."""
        template, operation = self.operation(method, path)
        status = str(response.status_code)
        what = f"{method} {path} -> {status}"
        responses = operation["responses"]
        code = status if status in responses else "default"
        assert code in responses, f"{what}: status not documented (documented: {sorted(responses)})"
        documented = responses[code]
        base = ("paths", template, method.lower(), "responses", code)

        for name, header in documented.get("headers", {}).items():
            value = response.headers.get(name)
            if value is None:
                assert not header.get("required"), f"{what}: required header {name} missing"
                continue
            if header.get("schema", {}).get("type") == "integer":
                assert re.fullmatch(r"-?\d+", value), f"{what}: header {name}={value!r} is not an integer"
                value = int(value)
            self._validate(_pointer(*base, "headers", name, "schema"), value, f"{what} header {name}")

        content = documented.get("content")
        if not content:
            assert not response.content, f"{what}: a body where none is documented"
            self.checked.append((method, template, response.status_code))
            return None
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        assert media_type in content, f"{what}: media type {media_type!r} not documented ({sorted(content)})"
        body = json.loads(response.content)
        self._validate(_pointer(*base, "content", media_type, "schema"), body, what)
        self.checked.append((method, template, response.status_code))
        return body
