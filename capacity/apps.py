from django.apps import AppConfig


class CapacityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "capacity"
    verbose_name = "Capacity planner"
