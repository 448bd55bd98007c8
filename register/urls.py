from django.urls import path

from . import views

app_name = "register"
urlpatterns = [
    path("", views.register_page, name="page"),
    path("register.json", views.register_json, name="json"),
    path("feed.atom", views.register_feed, name="feed"),
    path("follow/", views.follow, name="follow"),
    path("follow/confirm/<str:token>/", views.follow_confirm, name="confirm"),
    path("follow/stop/<str:token>/", views.follow_stop, name="stop"),
    path("follow/webhook/<str:token>/verify/", views.webhook_verify, name="webhook_verify"),
]
