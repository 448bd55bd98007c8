from django.contrib import admin

from .models import (
    Assignment,
    ConflictOfInterest,
    Determination,
    EvaluationDomain,
    EvaluationPlanItem,
    EvaluationResult,
    Finding,
)


@admin.register(EvaluationDomain)
class EvaluationDomainAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_active", "sort_order")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(ConflictOfInterest)
class ConflictOfInterestAdmin(admin.ModelAdmin):
    list_display = ("reviewer", "organization", "kind", "declared_at")


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("submission", "reviewer", "role", "assigned_at")


@admin.register(EvaluationPlanItem)
class EvaluationPlanItemAdmin(admin.ModelAdmin):
    list_display = ("submission", "domain")


@admin.register(EvaluationResult)
class EvaluationResultAdmin(admin.ModelAdmin):
    list_display = ("submission", "domain", "score", "threshold", "outcome")


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):
    list_display = ("title", "submission", "severity", "classification")

    def get_queryset(self, request):
        # The admin obeys clearance like every other view.
        return super().get_queryset(request).visible_to(request.user)


@admin.register(Determination)
class DeterminationAdmin(admin.ModelAdmin):
    list_display = ("submission", "outcome", "decided_by", "concurred_by", "issued_at")
