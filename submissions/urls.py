from django.urls import path

from . import views

app_name = "submissions"
urlpatterns = [
    path("", views.submission_list, name="list"),
    path("new/", views.submission_create, name="create"),
    path("<int:pk>/", views.submission_detail, name="detail"),
    path("<int:pk>/edit/", views.submission_edit, name="edit"),
    path("<int:pk>/actions/<slug:name>/", views.submission_action, name="action"),
    path("<int:pk>/artifacts/", views.artifact_upload, name="artifact_upload"),
    path("<int:pk>/publish/", views.submission_publish, name="publish"),
    path("<int:pk>/artifacts/<int:artifact_pk>/", views.artifact_download, name="artifact_download"),
    path("<int:pk>/orders/new/", views.order_record, name="order_record"),
    path("<int:pk>/orders/<int:order_pk>/lift/", views.order_lift, name="order_lift"),
    path("<int:pk>/publications/", views.publication_record, name="publication_record"),
    path(
        "<int:pk>/publications/<int:publication_pk>/withdraw/",
        views.publication_withdraw,
        name="publication_withdraw",
    ),
    path("agreements/", views.agreement_list, name="agreements"),
    path("agreements/<int:pk>/", views.agreement_change, name="agreement_change"),
]
