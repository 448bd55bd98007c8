"""The Django admin's two kinds of page: records it may only show, configuration it audits.

Records (submissions, determinations, assignments, results, findings, artifacts, the audit
trail, breaches, deliveries) change only through the portal's services, which check the
rules and write the audit trail: the admin shows them and nothing more. Configuration
(domains, SLA policies, organizations, partners, agreements, conflicts) may be edited here,
and every save or deletion goes through `configuration_save` / `configuration_delete`, which
write an entry in the office's audit chain in the same transaction.
"""

from django.contrib import admin


class RecordAdmin(admin.ModelAdmin):
    """Shown, never changed: the record changes through the portal's services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RecordInline:
    """An inline of a record: shown, never changed."""

    can_delete = False
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AuditedConfigAdmin(admin.ModelAdmin):
    """Configuration: each change is written to the office's audit chain with who and what."""

    def save_model(self, request, obj, form, change):
        from submissions.services import configuration_save

        configuration_save(actor=request.user, obj=obj)

    def delete_model(self, request, obj):
        from submissions.services import configuration_delete

        configuration_delete(actor=request.user, obj=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
