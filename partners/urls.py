from django.urls import path

from . import integration_views, views

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
    path("integration/revoke-previous-secrets/", views.partner_integration_revoke, name="integration_revoke"),
    path(
        "integration/deliveries/<uuid:pk>/redeliver/",
        views.partner_integration_redeliver,
        name="integration_redeliver",
    ),
    path("demo-inbox/", views.demo_inbox, name="demo_inbox"),
    path("demo-inbox/<int:pk>/receive/", views.demo_receiver, name="demo_receiver"),
    # A developer's own webhook endpoints (its integration managers).
    path("webhooks/", integration_views.endpoint_list, name="endpoints"),
    path("webhooks/new/", integration_views.endpoint_create, name="endpoint_create"),
    path("webhooks/<int:pk>/", integration_views.endpoint_detail, name="endpoint_detail"),
    path("webhooks/<int:pk>/active/", integration_views.endpoint_active, name="endpoint_active"),
    path("webhooks/<int:pk>/test/", integration_views.endpoint_test, name="endpoint_test"),
    path("webhooks/<int:pk>/delete/", integration_views.endpoint_delete, name="endpoint_delete"),
]
