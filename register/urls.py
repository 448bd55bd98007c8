from django.urls import path

from . import views

app_name = "register"
urlpatterns = [
    path("", views.register_page, name="page"),
    path("register.json", views.register_json, name="json"),
    path("feed.atom", views.register_feed, name="feed"),
]
