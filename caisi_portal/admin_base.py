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


def _m2m_values(obj) -> dict:
    if obj.pk is None:
        return {}
    return {f.name: {str(x) for x in getattr(obj, f.name).all()} for f in obj._meta.many_to_many}


class AuditedConfigAdmin(admin.ModelAdmin):
    """Configuration: each change is written to the office's audit chain with who and what,
    its many-to-many links too (a person's roles, a group's permissions)."""

    def save_model(self, request, obj, form, change):
        from submissions.services import configuration_save

        # Kept on the request, not on this admin: one admin object serves every request.
        request._caisi_m2m_before = _m2m_values(obj)
        configuration_save(actor=request.user, obj=obj)

    def save_related(self, request, form, formsets, change):
        from submissions.services import configuration_links_record

        super().save_related(request, form, formsets, change)
        before = getattr(request, "_caisi_m2m_before", {})
        configuration_links_record(
            actor=request.user, obj=form.instance, before=before, after=_m2m_values(form.instance)
        )

    def delete_model(self, request, obj):
        from submissions.services import configuration_delete

        configuration_delete(actor=request.user, obj=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


def audit_every_admin(site) -> None:
    """Every model the admin offers is a record (shown only) or audited configuration:
    third-party admins (groups and permissions, beat's schedules, authenticator devices)
    are wrapped in AuditedConfigAdmin too, so no admin page changes anything unrecorded."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, (RecordAdmin, AuditedConfigAdmin)):
            continue
        audited = type(f"Audited{type(model_admin).__name__}", (AuditedConfigAdmin, type(model_admin)), {})
        site.unregister(model)
        site.register(model, audited)
