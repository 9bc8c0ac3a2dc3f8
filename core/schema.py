"""OpenAPI schema post-processing: every operation documents the errors it can answer, in the contract's shape.

drf-spectacular documents what a view declares; the errors that DRF and `core.api` produce for any view (bad
input, authentication, permission, unknown page, unsupported body type, throttling) are added here once, so that
the schema agrees with the API (checked by the schemathesis fuzz test, tests/test_schema_fuzz.py).
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse

# The tag (the area, one ReDoc group) of an operation: its path's first part after the version (`customers`,
# `rating-runs`…), or for a customer's sub-resource (`customers/{msisdn}/points/`) that part.
AREAS = {
    "health": "health",
    "regions": "customers",
    "customers": "customers",
    "bills": "bills",
    "billing-months": "bills",
    "events": "events",
    "rating-runs": "tiers",
    "tier-history": "tiers",
    "tier-explanation": "tiers",
    "benefits": "benefits",
    "benefit-flags": "benefits",
    "points": "points",
    "account-managers": "managers",
    "obligations": "managers",
    "contact-logs": "managers",
    "assignments": "managers",
    "retention-cases": "retention",
    "reports": "reports",
}


class AutoSchema(SpectacularAutoSchema):
    """The project's schema class (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS): every operation is tagged with its area
    (AREAS; a view's `extend_schema(tags=…)` wins). Summaries are each view's `extend_schema(summary=…)`; the
    test over the generated schema (vipclub/tests/test_api_hygiene.py) asserts every operation has both."""

    def get_tags(self) -> list[str]:
        parts = [p for p in self.path.split("/") if p and p not in ("api", "v1")]
        if not parts:
            return super().get_tags()
        area = parts[0]
        if area == "customers" and len(parts) > 2 and parts[2] in AREAS:
            area = parts[2]
        return [AREAS.get(area, area)]

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """An optional field of a request serializer (core.fields.InputSerializer) is documented as nullable: `null`
        is taken as left out (API.md)."""
        from .fields import InputSerializer  # core.fields needs the permissions, loaded after the settings

        result = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and not field.required and isinstance(field.parent, InputSerializer):
            if "$ref" in result:
                result = {"allOf": [result]}
            result["nullable"] = True
        return result


# what a view declares for its 4xx answers (`responses={400: ERROR, …}`); the body's schema is added by the hook below
ERROR = OpenApiResponse(description='`{"error": {"code", "message", "fields"}}`')

ERROR_SCHEMA = {
    "type": "object",
    "description": 'Every error: `{"error": {"code", "message", "fields"}}` (API.md).',
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "machine-readable, e.g. `quota_exhausted`"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "every bad field (or bulk row index) with its problems",
                },
            },
            "required": ["code", "message", "fields"],
            "additionalProperties": True,
        }
    },
    "required": ["error"],
}

_DESCRIPTIONS = {
    "400": "Bad input: every bad field is named in `fields`.",
    "401": "Not authenticated.",
    "403": "Not allowed for this user or client.",
    "404": "Unknown resource or page.",
    "409": "A rule refuses the request.",
    "413": "The request body is too large.",
    "415": "Unsupported body media type.",
    "429": "Throttled: retry after the `Retry-After` header's seconds.",
    "503": "A service the answer needs is unavailable.",
}


def _error_response(code: str, description: str | None = None) -> dict:
    return {
        "description": description or _DESCRIPTIONS.get(code, "Error."),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _generic_errors(operation: dict) -> list[str]:
    codes = ["400", "429"]
    if operation.get("security") != [{}]:  # [{}]: no authentication (health)
        codes += ["401", "403"]
    parameters = operation.get("parameters", [])
    # 404: an unknown object in the path, a page past the end, or an unknown object the body names (a customer,
    # a manager, a policy…)
    if "requestBody" in operation or any(p.get("in") == "path" or p.get("name") == "page" for p in parameters):
        codes.append("404")
    if "requestBody" in operation:
        codes += ["413", "415"]
    return codes


def error_responses(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOKS entry: the Error component, the generic error answers of every operation, and the
    Error schema for declared error answers that have no body schema."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code in _generic_errors(operation):
                responses.setdefault(code, _error_response(code))
            for code, response in responses.items():
                if code[:1] in ("4", "5") and not response.get("content"):
                    responses[code] = _error_response(code, response.get("description"))
    return result
