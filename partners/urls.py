from django.urls import path

from . import views

app_name = "partners"
urlpatterns = [
    path("deliveries/", views.delivery_list, name="deliveries"),
    path("deliveries/<uuid:pk>/redeliver/", views.delivery_redeliver, name="redeliver"),
    path("digest/", views.partner_digest, name="digest"),
    path("integration/", views.partner_integration, name="integration"),
    path("integration/test/", views.partner_integration_test, name="integration_test"),
    path("integration/pause/", views.partner_integration_pause, name="integration_pause"),
    path("integration/resume/", views.partner_integration_resume, name="integration_resume"),
    path("integration/rotate-secret/", views.partner_integration_rotate, name="integration_rotate"),
    path(
        "integration/deliveries/<uuid:pk>/redeliver/",
        views.partner_integration_redeliver,
        name="integration_redeliver",
    ),
    path("demo-inbox/", views.demo_inbox, name="demo_inbox"),
    path("demo-inbox/<int:pk>/receive/", views.demo_receiver, name="demo_receiver"),
]
