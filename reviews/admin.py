"""The admin for the reviews app: records shown only, configuration audited."""

from django.contrib import admin

from accounts import rules
from caisi_portal import clock
from caisi_portal.admin_base import AuditedConfigAdmin, RecordAdmin

from .models import (
    Assignment,
    AssignmentHandover,
    AssignmentPolicy,
    ConflictOfInterest,
    Determination,
    EvaluationDomain,
    EvaluationPlanItem,
    EvaluationResult,
    Finding,
    ReviewerExpertise,
    ReviewerLeave,
)


def _read_by(obj, request):
    """The record, marked with who reads it (one admin object serves every request, so the
    reader travels with the object): its fields shown are those this person is cleared for."""
    if obj is not None:
        obj._caisi_reader = request.user
    return obj


def _reader(obj):
    from django.contrib.auth.models import AnonymousUser

    # Closed by default: a record not read through get_object is shown to nobody in particular.
    return getattr(obj, "_caisi_reader", None) or AnonymousUser()


@admin.register(EvaluationDomain)
class EvaluationDomainAdmin(AuditedConfigAdmin):
    list_display = ("name", "slug", "is_active", "sort_order")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(ConflictOfInterest)
class ConflictOfInterestAdmin(AuditedConfigAdmin):
    list_display = ("reviewer", "organization", "kind", "declared_at")


@admin.register(Assignment)
class AssignmentAdmin(RecordAdmin):
    list_display = ("submission", "reviewer", "role", "assigned_at")


@admin.register(AssignmentHandover)
class AssignmentHandoverAdmin(RecordAdmin):
    list_display = ("submission", "reviewer", "role", "handed_to", "ended_by", "ended_at")


@admin.register(EvaluationPlanItem)
class EvaluationPlanItemAdmin(RecordAdmin):
    list_display = ("submission", "domain")
    # The planned versions as this administrator may name them, never the raw many-to-many
    # (which would list a classified benchmark to someone below its clearance).
    fields = ("submission", "domain", "planned_versions")
    readonly_fields = ("planned_versions",)

    @admin.display(description="benchmark versions")
    def planned_versions(self, obj):
        from benchmarks.models import BenchmarkVersion

        every = list(obj.versions.all())
        named = rules.scope_benchmark_versions(
            BenchmarkVersion.objects.filter(pk__in=[v.pk for v in every]), _reader(obj)
        ).select_related("benchmark")
        words = [str(v) for v in named]
        hidden = len(every) - len(words)
        if hidden:
            words.append(f"{hidden} classified above your clearance")
        return "; ".join(words) or "none"

    def get_object(self, request, object_id, from_field=None):
        return _read_by(super().get_object(request, object_id, from_field), request)


@admin.register(EvaluationResult)
class EvaluationResultAdmin(RecordAdmin):
    list_display = ("submission", "domain", "version", "score", "level", "outcome")

    def get_queryset(self, request):
        # A classified benchmark's scores obey clearance here as everywhere.
        return rules.scope_results(super().get_queryset(request), request.user)


@admin.register(Finding)
class FindingAdmin(RecordAdmin):
    list_display = ("title", "submission", "severity", "classification")

    def get_queryset(self, request):
        # The admin obeys clearance like every other view.
        return super().get_queryset(request).visible_to(request.user)


@admin.register(Determination)
class DeterminationAdmin(RecordAdmin):
    list_display = ("submission", "outcome", "decided_by", "concurred_by", "issued_at")
    # Justifications go no further than their evidence (reviews.evidence.justifications_shown).
    exclude = ("justifications",)
    readonly_fields = ("justifications_shown",)

    @admin.display(description="justifications")
    def justifications_shown(self, obj):
        from reviews import evidence

        shown = evidence.justifications_shown(obj, _reader(obj))
        withheld = evidence.justifications_withheld(obj, shown)
        words = [f"{key}: {text}" for key, text in shown.items()]
        if withheld:
            words.append(f"{withheld} above your clearance, not shown")
        return "; ".join(words) or "none"

    def get_object(self, request, object_id, from_field=None):
        return _read_by(super().get_object(request, object_id, from_field), request)


@admin.register(ReviewerExpertise)
class ReviewerExpertiseAdmin(AuditedConfigAdmin):
    list_display = ("reviewer", "domain", "note")
    list_filter = ("domain",)


@admin.register(ReviewerLeave)
class ReviewerLeaveAdmin(AuditedConfigAdmin):
    """Administrators record a reviewer's leave for them (reviewers record their own on their profile)."""

    list_display = ("reviewer", "starts_on", "ends_on", "note")
    list_filter = ("starts_on",)
    exclude = ("recorded_at",)

    def save_model(self, request, obj, form, change):
        obj.recorded_at = obj.recorded_at or clock.now()
        super().save_model(request, obj, form, change)


@admin.register(AssignmentPolicy)
class AssignmentPolicyAdmin(AuditedConfigAdmin):
    """One row: the office's policy for assigning on accept (each change audited)."""

    list_display = ("__str__", "auto_assign_on_accept", "reviewers_on_accept")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not AssignmentPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
