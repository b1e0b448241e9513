"""``/api/v1/events/``: up to 10,000 events a request, each answered accepted, duplicate or rejected."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.batch import batch_items, serializer_for
from apps.core.parsers import BoundedJSONParser
from apps.events.services import EVENT_SPEC, events_ingest

EventItem = serializer_for("EventItem", EVENT_SPEC)


class EventResult(serializers.Serializer):
    optional_in_response = ("field", "reason")  # only on rejected events

    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    field = serializers.CharField(required=False, help_text="The offending field, for rejected events.")
    reason = serializers.CharField(required=False)


class EventsApi(APIView):
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="events_ingest",
        request=inline_serializer("EventsRequest", {"events": EventItem(
            many=True, min_length=1, max_length=settings.PUSHADMIN["MAX_BATCH"])}),
        responses={200: inline_serializer("EventsAnswer", {
            "received": serializers.IntegerField(), "accepted": serializers.IntegerField(),
            "duplicates": serializers.IntegerField(), "rejected": serializers.IntegerField(),
            "results": EventResult(many=True)})},
        description="Report opens, clicks, reads and dismissals. Each result says accepted, duplicate "
                    "(this event_id was stored before, so this one is not counted) or rejected with the field and reason "
                    "(among them an occurred_at older than the retention: events are kept PUSHADMIN_EVENT_RETENTION_DAYS "
                    "days, 365 by default). Results are in the order of the request.",
    )
    def post(self, request):
        items = batch_items(request.data, key="events", limit=settings.PUSHADMIN["MAX_BATCH"])
        return Response(events_ingest(client=request.user.client, items=items))
