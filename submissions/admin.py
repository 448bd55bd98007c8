from django.contrib import admin

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


class AppendOnlyAdmin(admin.ModelAdmin):
    """Logs can be read in the admin, never changed or deleted there."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "is_simulated")
    list_filter = ("kind",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ("organization", "status", "review_window_days", "signed_on")
    # Status moves only through the agreement transitions (the Agreements page).
    readonly_fields = ("status",)


@admin.register(ModelSubmission)
class ModelSubmissionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "organization", "release_channel", "state", "submitted_at")
    list_filter = ("state", "release_channel", "organization")
    search_fields = ("model_name", "model_version")
    # The state is the FSM's: it changes only through transitions, never by editing.
    readonly_fields = ("state", "resume_state", "submitted_by", "submitted_at", "created_at", "created_by")


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ("original_name", "submission", "kind", "size", "uploaded_at")
    readonly_fields = ("sha256", "size", "content_type", "uploaded_by", "uploaded_at")


@admin.register(InformationRequest)
class InformationRequestAdmin(admin.ModelAdmin):
    list_display = ("submission", "requested_at", "answered_at")


@admin.register(AuditEntry)
class AuditEntryAdmin(AppendOnlyAdmin):
    list_display = ("at", "submission", "action", "from_state", "to_state", "actor")
    list_filter = ("action",)


@admin.register(AgreementEvent)
class AgreementEventAdmin(AppendOnlyAdmin):
    list_display = ("recorded_at", "agreement", "from_status", "to_status", "recorded_by")


class ClockPauseInline(admin.TabularInline):
    model = ClockPause
    extra = 0
    can_delete = False
    readonly_fields = ("started_at", "ended_at", "reason")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReviewClock)
class ReviewClockAdmin(admin.ModelAdmin):
    list_display = ("submission", "status", "started_at", "deadline_at", "paused_total")
    list_filter = ("status",)
    inlines = [ClockPauseInline]
    # The clock is moved only by transitions and the sweep.
    readonly_fields = (
        "submission",
        "status",
        "started_at",
        "window",
        "paused_total",
        "deadline_at",
        "next_warning_at",
        "warnings_sent",
        "eta_scheduled_for",
        "stopped_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "intake_decision_days", "reviewer_assignment_days", "developer_answer_days")

    def has_add_permission(self, request):
        return not SlaPolicy.objects.exists()


@admin.register(SlaObligation)
class SlaObligationAdmin(admin.ModelAdmin):
    list_display = ("submission", "kind", "due_at", "closed_at", "breached_at")
    list_filter = ("kind",)
    readonly_fields = ("submission", "kind", "due_at", "opened_at", "closed_at", "breached_at")


@admin.register(SlaBreach)
class SlaBreachAdmin(admin.ModelAdmin):
    list_display = ("submission", "kind", "due_at", "detected_at", "acknowledged_at")
    list_filter = ("kind",)
    readonly_fields = (
        "submission",
        "kind",
        "obligation",
        "due_at",
        "detected_at",
        "acknowledged_by",
        "acknowledged_at",
    )
