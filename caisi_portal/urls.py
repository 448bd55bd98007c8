from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_safe

from accounts import views as account_views
from accounts.forms import SignInForm
from caisi_portal.admin_base import audit_every_admin
from submissions import views as submission_views


@require_safe
def health(request):
    """Liveness for load balancers and compose; also the benchmark's floor."""
    return HttpResponse("ok", content_type="text/plain")


# Loaded once every app's admin is registered: wrap any that is neither a record nor audited.
audit_every_admin(admin.site)

urlpatterns = [
    path("", submission_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(authentication_form=SignInForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("submissions/", include("submissions.urls")),
    path("reviews/", include("reviews.urls")),
    path("benchmarks/", include("benchmarks.urls")),
    path("partners/", include("partners.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("exercises/", include("exercises.urls")),
    path("register/", include("register.urls")),
    path("joint/", include("joint.urls")),
    path("capacity/", include("capacity.urls")),
    path("account/", account_views.profile, name="profile"),
    path("account/held/", account_views.held_notifications, name="held_notifications"),
    path("account/two-factor/setup/", account_views.two_factor_setup, name="two_factor_setup"),
    path("account/two-factor/verify/", account_views.two_factor_verify, name="two_factor_verify"),
    path("healthz/", health, name="healthz"),
    path("api/", include("api.urls")),
    path("admin/", admin.site.urls),
]
