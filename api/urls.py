from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from . import benchmarks, capacity, notifications, views

router = DefaultRouter()
router.include_root_view = False
# JSON is the only format: no `.json` suffix URLs beside the documented ones.
router.include_format_suffixes = False
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("submissions", views.SubmissionViewSet, basename="submission")
router.register("benchmarks", benchmarks.BenchmarkViewSet, basename="benchmark")
router.register("benchmark-versions", benchmarks.BenchmarkVersionViewSet, basename="benchmark-version")
router.register("sla-breaches", views.SlaBreachViewSet, basename="sla-breach")
router.register("capacity-scenarios", capacity.ScenarioViewSet, basename="capacity-scenario")
router.register("sla-policy", views.SlaPolicyViewSet, basename="sla-policy")
router.register("trusted-partners", views.TrustedPartnerViewSet, basename="trusted-partner")
router.register("deliveries", views.DeliveryViewSet, basename="delivery")
# A person's own emails waiting for their digest (anyone signed in: their own only).
router.register("held-deliveries", notifications.HeldDeliveryViewSet, basename="held-delivery")
router.register("joint-invitations", views.JointInvitationViewSet, basename="joint-invitation")
router.register("webhook-endpoints", views.WebhookEndpointViewSet, basename="webhook-endpoint")
# A trusted partner's own: its deliveries, and its webhooks' test, pause, resume and secret.
router.register("partner/deliveries", views.PartnerDeliveryViewSet, basename="partner-delivery")
router.register("partner", views.PartnerIntegrationViewSet, basename="partner-integration")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("v1/conflict-check/", views.ConflictCheckView.as_view(), name="api-conflict-check"),
    path("v1/release-gate/", views.ReleaseGateView.as_view(), name="api-release-gate"),
    # Anything else under /api/v1/ answers in the API's error shape, not an HTML page.
    re_path(r"^v1/", views.api_not_found),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI sets one inline style; only this page allows inline styles (never scripts).
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]
