from django.apps import AppConfig


class JointConfig(AppConfig):
    name = "joint"
    verbose_name = "Joint reviews with allied institutes"
