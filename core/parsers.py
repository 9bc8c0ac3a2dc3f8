"""The API's JSON parser: DRF's, with the input bounds (core.bounds) — at most JSON_MAX_DEPTH levels of arrays and
objects (a body nested thousands of levels deep was a RecursionError: a 500) and no NUL character in any string or
key (PostgreSQL cannot store one). Both are a 400 `malformed_request` naming the problem."""

import codecs

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from . import bounds


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            return bounds.loads_json(text, parse_constant=json.strict_constant if self.strict else None)
        except bounds.BoundsError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
