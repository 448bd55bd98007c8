from django.urls import path

from . import views

app_name = "benchmarks"
urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("new/", views.benchmark_new, name="new"),
    path("<slug:slug>/", views.benchmark_detail, name="detail"),
    path("<slug:slug>/trends/", views.benchmark_trends, name="trends"),
    path("<slug:slug>/versions/new/", views.version_new, name="version_new"),
    path("versions/<int:pk>/levels/", views.version_levels, name="version_levels"),
    path("versions/<int:pk>/metric-aliases/", views.version_aliases, name="version_aliases"),
    path("versions/<int:pk>/retire/", views.version_retire, name="version_retire"),
]
