"""The editors' "approve and launch" button: a page action that starts a campaign, so it lives
with the engine (the content pages are ``apps.contents.views``)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.contents.selectors import content_for_user
from apps.core.errors import ApiError
from apps.core.labels import label
from apps.core.permissions import Action, can, require
from apps.delivery.tasks import dispatch_soon
from apps.orchestration.launch import content_launch as launch


@require_POST
@require(Action.REVIEW_CONTENTS)
def content_launch(request, pk: int):
    content = content_for_user(user=request.user, pk=pk)
    if not can(request.user, Action.REVIEW_CONTENTS, content.client_id):
        raise PermissionDenied
    try:
        campaign = launch(content=content, user=request.user)
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    else:
        dispatch_soon()
        messages.success(request, _("Launched: campaign #%(id)s is %(state)s.") % {
            "id": campaign.pk, "state": label("campaign_state", campaign.state)})
    return HttpResponseRedirect(reverse("contents:detail", args=[pk]))
