from django.urls import path

from . import views

app_name = "exercises"
urlpatterns = [
    path("", views.exercise_list, name="list"),
    path("start/", views.exercise_start, name="start"),
    path("inbox/", views.inbox, name="inbox"),
    path("<int:pk>/", views.console, name="console"),
    path("<int:pk>/clock/", views.clock, name="clock"),
    path("<int:pk>/injects/<int:inject_pk>/fire/", views.fire, name="fire"),
    path("<int:pk>/observations/", views.observe, name="observe"),
    path("<int:pk>/improvements/", views.improve, name="improve"),
    path("<int:pk>/players/<int:user_pk>/password/", views.player_password, name="player_password"),
    path("<int:pk>/report/", views.aar, name="report"),
    path("<int:pk>/report.json", views.aar_json, name="report_json"),
    path("<int:pk>/report.pdf", views.aar_pdf, name="report_pdf"),
]
