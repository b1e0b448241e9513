"""``/api/v1/subscribers/bulk/``: upsert up to 10,000 subscribers in one request."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audience.services import SUBSCRIBER_SPEC, subscribers_bulk_upsert
from apps.core.batch import batch_items, serializer_for
from apps.core.parsers import BoundedJSONParser

SubscriberItem = serializer_for("SubscriberItem", SUBSCRIBER_SPEC)


class SubscribersBulkApi(APIView):
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        operation_id="subscribers_bulk_upsert",
        request=inline_serializer("SubscribersBulkRequest", {"subscribers": SubscriberItem(
            many=True, min_length=1, max_length=settings.PUSHADMIN["MAX_BATCH"])}),
        responses={200: inline_serializer("SubscribersBulkResult", {
            "received": serializers.IntegerField(), "created": serializers.IntegerField(),
            "updated": serializers.IntegerField(), "unchanged": serializers.IntegerField()})},
        description="Insert or update up to 10,000 subscribers, matched by external_id. All or nothing: "
                    "one invalid item rejects the batch with a 400 listing every bad field.",
    )
    def post(self, request):
        items = batch_items(request.data, key="subscribers", limit=settings.PUSHADMIN["MAX_BATCH"])
        return Response(subscribers_bulk_upsert(client=request.user.client, items=items))
