from django.urls import path

from . import views

app_name = "joint"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("submissions/<int:pk>/invite/", views.invite, name="invite"),
    path("invitations/<int:pk>/", views.invitation, name="invitation"),
    path("invitations/<int:pk>/respond/", views.respond, name="respond"),
    path("invitations/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("arrangements/", views.arrangements, name="arrangements"),
    path("arrangements/<int:pk>/end/", views.arrangement_end, name="arrangement_end"),
]
