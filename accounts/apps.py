from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        from .roles import ensure_role_groups

        # Runs after the last app migrates, when every permission row exists.
        post_migrate.connect(ensure_role_groups, dispatch_uid="caisi_ensure_role_groups")
