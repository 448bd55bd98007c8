from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, ("Portal", {"fields": ("organization", "clearance", "is_simulated")}))
    list_display = ("username", "email", "organization", "clearance", "is_staff")
    list_filter = ("groups", "organization", "clearance")
