from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from apps.audience.api import SubscribersBulkApi
from apps.campaigns.api import CampaignViewSet
from apps.contents import views as contents_views
from apps.contents.api import ContentViewSet
from apps.core import views as core_views
from apps.core.api_docs import RedocView, SwaggerUiView
from apps.events.api import EventsApi
from apps.orchestration import views as orchestration_views

router = SimpleRouter()
router.register("contents", ContentViewSet, basename="content")
router.register("campaigns", CampaignViewSet, basename="campaign")

api_v1 = [
    path("subscribers/bulk/", SubscribersBulkApi.as_view(), name="subscribers-bulk"),
    path("events/", EventsApi.as_view(), name="events"),
    *router.urls,
]

urlpatterns = [
    path("", contents_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/setlang/", core_views.language_set, name="set_language"),
    path("preferences/", core_views.preferences, name="preferences"),
    path("admin/", admin.site.urls),
    path("contents/<int:pk>/launch/", orchestration_views.content_launch, name="content_launch"),
    path("contents/", include("apps.contents.urls")),
    path("dashboards/", include("apps.dashboards.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerUiView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
]

handler403 = "apps.core.views.forbidden"
handler404 = "apps.core.views.not_found"
