from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        from .roles import ensure_role_groups

        # Runs after the last app migrates, when every permission row exists.
        post_migrate.connect(ensure_role_groups, dispatch_uid="caisi_ensure_role_groups")

        from django.contrib.auth.signals import user_logged_in

        from .middleware import SessionIdleTimeout

        # Signing in is activity: the idle clock starts then, with the session being saved anyway.
        user_logged_in.connect(SessionIdleTimeout.on_sign_in, dispatch_uid="caisi_idle_clock_starts")
