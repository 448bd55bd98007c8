from django.urls import path

from . import views

app_name = "capacity"
urlpatterns = [
    path("", views.scenario_list, name="list"),
    path("compare/", views.compare, name="compare"),
    path("<int:pk>/", views.scenario_detail, name="detail"),
    path("<int:pk>/<slug:table>.csv", views.scenario_table, name="table"),
    path("<int:pk>/scenario.json", views.scenario_json, name="json"),
]
