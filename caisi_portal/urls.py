from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from submissions import views as submission_views

urlpatterns = [
    path("", submission_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("submissions/", include("submissions.urls")),
    path("reviews/", include("reviews.urls")),
    path("partners/", include("partners.urls")),
    path("admin/", admin.site.urls),
]
