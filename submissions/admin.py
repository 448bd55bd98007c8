"""The admin for the submissions app: records shown only, configuration audited
(caisi_portal.admin_base)."""

from django.contrib import admin

from caisi_portal.admin_base import AuditedConfigAdmin, RecordAdmin, RecordInline

from .models import (
    Agreement,
    AgreementEvent,
    Artifact,
    AuditEntry,
    ClockPause,
    InformationRequest,
    ModelSubmission,
    Organization,
    ReviewClock,
    SlaBreach,
    SlaObligation,
    SlaPolicy,
)


@admin.register(Organization)
class OrganizationAdmin(AuditedConfigAdmin):
    list_display = ("name", "kind", "is_simulated")
    list_filter = ("kind",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Agreement)
class AgreementAdmin(AuditedConfigAdmin):
    list_display = ("organization", "status", "review_window_days", "signed_on")
    # Status moves only through the agreement transitions (the Agreements page).
    readonly_fields = ("status",)


@admin.register(ModelSubmission)
class ModelSubmissionAdmin(RecordAdmin):
    list_display = ("__str__", "organization", "release_channel", "state", "submitted_at")
    list_filter = ("state", "release_channel", "organization")
    search_fields = ("model_name", "model_version")


@admin.register(Artifact)
class ArtifactAdmin(RecordAdmin):
    list_display = ("original_name", "submission", "kind", "size", "uploaded_at")


@admin.register(InformationRequest)
class InformationRequestAdmin(RecordAdmin):
    list_display = ("submission", "requested_at", "answered_at")


@admin.register(AuditEntry)
class AuditEntryAdmin(RecordAdmin):
    list_display = ("at", "submission", "action", "from_state", "to_state", "actor")
    list_filter = ("action",)


@admin.register(AgreementEvent)
class AgreementEventAdmin(RecordAdmin):
    list_display = ("recorded_at", "agreement", "from_status", "to_status", "recorded_by")


class ClockPauseInline(RecordInline, admin.TabularInline):
    model = ClockPause
    readonly_fields = ("started_at", "ended_at", "reason")


@admin.register(ReviewClock)
class ReviewClockAdmin(RecordAdmin):
    list_display = ("submission", "status", "started_at", "deadline_at", "paused_total")
    list_filter = ("status",)
    inlines = [ClockPauseInline]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedConfigAdmin):
    list_display = (
        "__str__",
        "intake_decision_days",
        "reviewer_assignment_days",
        "developer_answer_days",
        "reminder_days",
        "escalate_lead_days",
        "escalate_admin_days",
        "information_pause_cap_days",
        "pause_cap_warning_days",
    )

    def has_add_permission(self, request):
        return not SlaPolicy.objects.exists()


@admin.register(SlaObligation)
class SlaObligationAdmin(RecordAdmin):
    list_display = ("submission", "kind", "due_at", "closed_at", "breached_at")
    list_filter = ("kind",)


@admin.register(SlaBreach)
class SlaBreachAdmin(RecordAdmin):
    list_display = ("submission", "kind", "due_at", "detected_at", "acknowledged_at")
    list_filter = ("kind",)
