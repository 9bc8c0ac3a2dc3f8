"""`GET /feed/` (API.md): every outbound event in commit order, with a cursor, for pull consumers (scope `pii`: the
events carry msisdns in clear)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import feed
from core.errors import InvalidInput
from core.permissions import RoleOrScope
from core.schema import ERROR


def _cursor(value: str) -> int:
    """A cursor: a `next` from an earlier page (also an event id `evt_…`)."""
    text = value.strip().removeprefix("evt_")
    if not text.isdigit():
        raise ValueError(value)
    return int(text)


class FeedApi(APIView):
    permission_classes = [RoleOrScope]
    scopes = {"GET": "pii"}  # the API client's token scope per method (core.permissions)

    @extend_schema(
        summary="Read the outbound events feed",
        tags=["feed"],
        parameters=[
            OpenApiParameter("after", str, description="the `next` cursor of the previous page; none: from the start"),
            OpenApiParameter("type", str, enum=list(feed.EVENT_TYPES), many=True),
            OpenApiParameter("limit", int, description=f"at most {feed.MAX_LIMIT} (default {feed.DEFAULT_LIMIT})"),
        ],
        responses={
            200: inline_serializer(
                "FeedPage",
                {
                    "results": serializers.ListField(child=serializers.DictField()),
                    "next": serializers.CharField(),
                },
            ),
            400: ERROR,
        },
        description='Every outbound event (API.md "Outbound events") in commit order, kept 30 days. Pass `next` '
        "as `after` to read on; an empty page keeps the cursor (poll again later). Events are served once every "
        "transaction that could still commit an earlier event has ended, so paging never skips one.",
    )
    def get(self, request):
        errors = {}
        after = 0
        if request.query_params.get("after"):
            try:
                after = _cursor(request.query_params["after"])
            except ValueError:
                errors["after"] = ["not a cursor of this feed"]
        types = [t for value in request.query_params.getlist("type") for t in value.split(",") if t]
        unknown = sorted(set(types) - set(feed.EVENT_TYPES))
        if unknown:
            errors["type"] = [f"unknown event type {t!r}" for t in unknown]
        limit = feed.DEFAULT_LIMIT
        if request.query_params.get("limit"):
            raw = request.query_params["limit"]
            if not raw.isdigit() or not 1 <= int(raw) <= feed.MAX_LIMIT:
                errors["limit"] = [f"a whole number from 1 to {feed.MAX_LIMIT}"]
            else:
                limit = int(raw)
        if errors:
            raise InvalidInput("Invalid feed query.", fields=errors)
        events, cursor = feed.feed_page(after=after, types=types, limit=limit)
        return Response({"results": [e.as_message() for e in events], "next": str(cursor)})
