"""The admin for the reviews app: records shown only, configuration audited."""

from django.contrib import admin

from accounts import rules
from caisi_portal.admin_base import AuditedConfigAdmin, RecordAdmin

from .models import (
    Assignment,
    AssignmentPolicy,
    ConflictOfInterest,
    Determination,
    EvaluationDomain,
    EvaluationPlanItem,
    EvaluationResult,
    Finding,
    ReviewerExpertise,
)


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


@admin.register(EvaluationPlanItem)
class EvaluationPlanItemAdmin(RecordAdmin):
    list_display = ("submission", "domain")


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


@admin.register(ReviewerExpertise)
class ReviewerExpertiseAdmin(AuditedConfigAdmin):
    list_display = ("reviewer", "domain", "note")
    list_filter = ("domain",)


@admin.register(AssignmentPolicy)
class AssignmentPolicyAdmin(AuditedConfigAdmin):
    """One row: the office's policy for assigning on accept (each change audited)."""

    list_display = ("__str__", "auto_assign_on_accept", "reviewers_on_accept")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not AssignmentPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
