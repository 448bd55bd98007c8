"""The admin for partners: their settings audited (secrets never shown), the outbox shown only."""

from django.contrib import admin

from caisi_portal.admin_base import AuditedConfigAdmin, RecordAdmin, RecordInline

from .models import Delivery, DeliveryAttempt, Event, TrustedPartner


@admin.register(TrustedPartner)
class TrustedPartnerAdmin(AuditedConfigAdmin):
    list_display = ("organization", "webhook_url", "is_active", "is_exercise")
    list_filter = ("is_active", "is_exercise")
    # Secrets are made and rotated by the API (shown once), never shown or typed here.
    exclude = ("webhook_secret", "webhook_secret_made_at", "previous_secrets")


class DeliveryAttemptInline(RecordInline, admin.TabularInline):
    model = DeliveryAttempt
    readonly_fields = ("number", "started_at", "status_code", "latency_ms", "error", "succeeded")


@admin.register(Event)
class EventAdmin(RecordAdmin):
    list_display = ("type", "submission", "occurred_at", "is_exercise")
    list_filter = ("type",)


@admin.register(Delivery)
class DeliveryAdmin(RecordAdmin):
    list_display = ("id", "channel", "address", "status", "attempts", "next_attempt_at", "delivered_at")
    list_filter = ("status", "channel")
    inlines = [DeliveryAttemptInline]
