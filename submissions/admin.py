from django.contrib import admin

from .models import Agreement, AgreementEvent, Artifact, AuditEntry, InformationRequest, ModelSubmission, Organization


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
