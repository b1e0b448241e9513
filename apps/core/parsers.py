"""The API's JSON parser: refuses bodies nested deeper than ``MAX_JSON_DEPTH`` before parsing them.

Python's JSON decoder recurses once per level, so a body such as ``[[[[...]]]]`` 5,000 levels deep
ends in a ``RecursionError`` that no handler expects (a 500). The depth is measured first by
``apps.core.validation.json_depth`` (no recursion, linear time); a deeper body is a 400 with code
``too_deep``. No request of this API needs more than a few levels.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from apps.core.errors import ApiError
from apps.core.validation import MAX_JSON_DEPTH, json_depth


class JsonTooDeep(ApiError):
    default_code = "too_deep"


class BoundedJSONParser(JSONParser):
    max_depth = MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read()
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}: {exc}.") from None
        utf8 = encoding.lower().replace("-", "").replace("_", "") == "utf8"
        if json_depth(raw if utf8 else text, stop_above=self.max_depth) > self.max_depth:
            raise JsonTooDeep(f"The JSON body nests deeper than {self.max_depth} levels.", field=None)
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:  # cannot happen below max_depth; kept so that it never becomes a 500
            raise JsonTooDeep(f"The JSON body nests deeper than {self.max_depth} levels.", field=None) from None
