"""``/api/v1/contents/``: register (idempotent PUT), list with filters, read one."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from apps.contents.models import Content, ContentStatus, TitleVariant
from apps.contents.selectors import content_detail, contents_of_client
from apps.contents.services import content_upsert
from apps.core import validation
from apps.core.pagination import SafeCursorPagination
from apps.core.parsers import BoundedJSONParser

EXTERNAL_ID_RE = r"[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}"


class ContentPutSerializer(serializers.Serializer):
    """The body of a content PUT. A field it does not know is refused (400 ``unknown_field``), as in
    the batches: a misspelt ``expires_at`` must not pass silently as "no expiry given"."""

    title = serializers.CharField(max_length=500, trim_whitespace=True)
    body = serializers.CharField(required=False, allow_blank=True, default="", max_length=200_000)
    url = serializers.URLField(required=False, allow_blank=True, default="", max_length=2000)
    category = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    language = serializers.RegexField(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$", required=False, allow_blank=True, default="",
                                      max_length=8, error_messages={"invalid": "Use an ISO 639-1 code such as 'ko' or 'en'."})
    created_at = validation.DateTimeField(required=False, help_text="When it was created. Default: now for a new "
                                                                    "content; an existing one keeps its own.")
    expires_at = validation.DateTimeField(required=False, allow_null=True, default=None,
                                          help_text="Must be after created_at (the one given, else the default "
                                                    "above). Default: created_at + the client's content lifetime.")


    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = validation.unknown_fields(data, self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: [serializers.ErrorDetail(f"Unknown field '{name}'.", code="unknown_field")] for name in unknown})
        return super().to_internal_value(data)


class TitleVariantSerializer(serializers.ModelSerializer):
    class Meta:
        model = TitleVariant
        fields = ["id", "text", "source", "template_name", "review", "sends", "clicks"]


class ReasonSerializer(serializers.Serializer):
    feature = serializers.CharField()
    label = serializers.CharField(help_text="The feature, for people.")
    contribution = serializers.FloatField(help_text="How much it moved the score (the model's own units).")


class ScoresSerializer(serializers.Serializer):
    push_score = serializers.FloatField(allow_null=True, help_text="Predicted click improvement.")
    model_version = serializers.CharField(allow_null=True, help_text="The scoring model; null for the rule-based interim scorer.")
    reasons = ReasonSerializer(many=True, help_text="What moved the score most, strongest first.")
    evaluated_at = serializers.DateTimeField(allow_null=True)
    early_reads = serializers.IntegerField()
    early_read_share = serializers.FloatField(
        allow_null=True, help_text="Its early reads' share of the site's reads of fresh contents over the same window.")


@extend_schema_field({"$ref": "#/components/schemas/CampaignStateEnum"})
class CampaignStateField(serializers.CharField):
    """A campaign's state, documented as the campaigns endpoints' enum (``Campaign.State`` lives in an
    app above this one, so it is named here, not imported)."""


class CampaignNumbersSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = CampaignStateField()
    sends = serializers.IntegerField()
    clicks = serializers.IntegerField()
    expected_clicks = serializers.FloatField()
    improvement = serializers.FloatField(allow_null=True)


class ContentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Content
        fields = ["external_id", "title", "url", "category", "language", "status", "created_at", "expires_at",
                  "registered_at", "updated_at", "push_score"]


class ContentDetailSerializer(ContentSerializer):
    scores = serializers.SerializerMethodField()
    title_variants = TitleVariantSerializer(many=True, read_only=True)
    campaign = serializers.SerializerMethodField()

    class Meta(ContentSerializer.Meta):
        fields = [*ContentSerializer.Meta.fields, "body", "rejection_reason", "scores", "title_variants", "campaign"]

    @extend_schema_field(ScoresSerializer)
    def get_scores(self, obj):
        mv = obj.score_model_version
        return {"push_score": obj.push_score, "model_version": str(mv) if mv else None, "reasons": obj.score_reasons,
                "evaluated_at": obj.evaluated_at, "early_reads": obj.early_reads,
                "early_read_share": obj.early_read_share}

    @extend_schema_field(CampaignNumbersSerializer(allow_null=True))
    def get_campaign(self, obj):
        campaign = getattr(obj, "campaign", None)
        if campaign is None:
            return None
        return {"id": campaign.pk, "state": campaign.state, "sends": campaign.sends, "clicks": campaign.clicks,
                "expected_clicks": campaign.expected_clicks, "improvement": campaign.improvement}


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = validation.DateTimeFormField


class ContentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ContentStatus.choices)
    category = django_filters.CharFilter()
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Content
        fields = ["status", "category", "created_after", "created_before"]


class NewestFirst(SafeCursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ContentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    lookup_field = "external_id"
    lookup_value_regex = EXTERNAL_ID_RE
    parser_classes = [BoundedJSONParser]
    filterset_class = ContentFilter
    pagination_class = NewestFirst
    serializer_class = ContentSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Content.objects.none()
        return contents_of_client(client_id=self.request.user.client.pk)

    @extend_schema(responses={200: ContentDetailSerializer})
    def retrieve(self, request, external_id: str):
        content = content_detail(client_id=request.user.client.pk, external_id=external_id)
        return Response(ContentDetailSerializer(content).data)

    @extend_schema(
        request=ContentPutSerializer,
        responses={200: OpenApiResponse(ContentDetailSerializer, description="updated or unchanged"),
                   201: OpenApiResponse(ContentDetailSerializer, description="registered")},
        description="Register a content, or update it. Idempotent: the same body twice is one content.",
    )
    def update(self, request, external_id: str):
        body = ContentPutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = content_upsert(client=request.user.client, external_id=external_id, data=body.validated_data)
        content = content_detail(client_id=request.user.client.pk, external_id=external_id)
        return Response(ContentDetailSerializer(content).data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
