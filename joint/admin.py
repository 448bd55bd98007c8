from django.contrib import admin

from caisi_portal.admin_base import RecordAdmin

from .models import DataSharingArrangement, JointReviewInvitation


# Both change through the portal's services only (they check the rules and write the audit
# trail): administrators use the Arrangements page and the submission's invite page.
@admin.register(DataSharingArrangement)
class DataSharingArrangementAdmin(RecordAdmin):
    list_display = ("reference", "institute", "status", "classification_cap", "starts_on", "ends_on")


@admin.register(JointReviewInvitation)
class JointReviewInvitationAdmin(RecordAdmin):
    list_display = ("submission", "institute", "status", "invited_at")
