from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("", views.dashboard, name="index"),
    path("breaches/", views.breach_list, name="breaches"),
    path("breaches/<int:pk>/acknowledge/", views.breach_ack, name="breach_ack"),
    path("reports/", views.reports, name="reports"),
    path("reports/exports/", views.export_start, name="export_start"),
    path("reports/exports/<uuid:pk>/", views.export_detail, name="export"),
    path("reports/exports/<uuid:pk>/download/", views.export_download, name="export_download"),
    path("reports/submissions.csv", views.export_submissions, name="export_submissions"),
    path("reports/breaches.csv", views.export_breaches, name="export_breaches"),
    path("reports/determinations.csv", views.export_determinations, name="export_determinations"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar"),
]
