from django.contrib import admin

from .models import Delivery, DeliveryAttempt, Event, TrustedPartner


@admin.register(TrustedPartner)
class TrustedPartnerAdmin(admin.ModelAdmin):
    list_display = ("organization", "webhook_url", "is_active", "is_exercise")
    list_filter = ("is_active", "is_exercise")


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "started_at", "status_code", "latency_ms", "error", "succeeded")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("type", "submission", "occurred_at", "is_exercise")
    list_filter = ("type",)
    readonly_fields = ("id", "type", "submission", "occurred_at", "payload", "is_exercise")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "channel", "address", "status", "attempts", "next_attempt_at", "delivered_at")
    list_filter = ("status", "channel")
    inlines = [DeliveryAttemptInline]
    readonly_fields = (
        "id",
        "event",
        "channel",
        "partner",
        "recipient",
        "address",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    )
