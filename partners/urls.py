from django.urls import path

from . import views

app_name = "partners"
urlpatterns = [
    path("deliveries/", views.delivery_list, name="deliveries"),
    path("deliveries/<uuid:pk>/redeliver/", views.delivery_redeliver, name="redeliver"),
    path("digest/", views.partner_digest, name="digest"),
    path("demo-inbox/", views.demo_inbox, name="demo_inbox"),
    path("demo-inbox/<int:pk>/receive/", views.demo_receiver, name="demo_receiver"),
]
