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
