from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from caisi_portal.admin_base import AuditedConfigAdmin

from .models import User


@admin.register(User)
class UserAdmin(AuditedConfigAdmin, BaseUserAdmin):
    """People's accounts: every change (roles, activity, clearance) lands in the audit chain."""

    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Portal", {"fields": ("organization", "clearance", "is_simulated", "exercise", "password_expires_at")}),
    )
    list_display = ("username", "email", "organization", "clearance", "is_staff")
    list_filter = ("groups", "organization", "clearance")

    def user_change_password(self, request, id, form_url=""):
        """A password set here is recorded (never the password itself)."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            from submissions.services import audit_record

            audit_record(
                submission=None,
                actor=request.user,
                action="configuration_changed",
                comment=f"User {User.objects.get(pk=id)}: password set by an administrator",
                internal=True,
            )
        return response
