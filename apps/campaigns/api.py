"""``/api/v1/campaigns/``: state, waves and numbers of the client's campaigns (read-only)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from apps.campaigns.models import Campaign, Wave
from apps.campaigns.selectors import campaigns_of_client
from apps.core.pagination import SafeCursorPagination


class WaveSerializer(serializers.ModelSerializer):
    improvement = serializers.FloatField(read_only=True, allow_null=True)
    decision = serializers.ChoiceField(choices=Wave.Decision.choices, allow_blank=True, read_only=True,
                                       help_text="Empty until the wave is decided.")
    decision_numbers = serializers.DictField(read_only=True, help_text="The statistics behind the decision.")
    plan_numbers = serializers.DictField(
        read_only=True, help_text="What planning counted: planned, target (after the campaign's maximum), eligible, "
                                  "held_back_by_price, held_out, slot_lost, chosen, created.")

    class Meta:
        model = Wave
        fields = ["number", "state", "planned_size", "sends", "delivered", "failed", "clicks", "expected_clicks",
                  "improvement", "created_at", "sent_at", "observe_until", "decision", "decided_at", "decision_numbers",
                  "plan_numbers"]


class CampaignSerializer(serializers.ModelSerializer):
    content = serializers.CharField(source="content.external_id", read_only=True)
    improvement = serializers.FloatField(read_only=True, allow_null=True)
    waves = WaveSerializer(many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = ["id", "content", "state", "created_at", "ended_at", "end_reason", "sends", "clicks",
                  "expected_clicks", "improvement", "initial_size", "growth", "max_sends", "floor", "target", "alpha", "waves"]


class CampaignFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=Campaign.State.choices)

    class Meta:
        model = Campaign
        fields = ["state"]


class NewestFirst(SafeCursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class CampaignViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    pagination_class = NewestFirst

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        return campaigns_of_client(client_id=self.request.user.client.pk)
