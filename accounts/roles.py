"""The portal's roles, as Django groups with model permissions.

A role is what a person may do; which objects they may do it to is decided by
accounts.rules. Groups are (re)built after every migrate so a new permission reaches
its role without a hand-written data migration.
"""

from django.contrib.auth.models import Group, Permission
from django.db import models


class Role(models.TextChoices):
    DEVELOPER_STAFF = "developer_staff", "Developer staff"
    REVIEWER = "reviewer", "Reviewer"
    LEAD_REVIEWER = "lead_reviewer", "Lead reviewer"
    ADMINISTRATOR = "administrator", "Administrator"
    TRUSTED_PARTNER = "trusted_partner", "Trusted-partner user"
    EXERCISE_CONTROLLER = "exercise_controller", "Exercise controller"
    TRAINEE = "trainee", "Trainee"
    # Held beside developer_staff by whoever runs a lab's integrations (its webhook endpoints).
    INTEGRATION_MANAGER = "integration_manager", "Integration manager (developer)"
    # A reviewer of an allied institute (an organization of that kind): sees only the joint
    # reviews its institute accepted, within its data-sharing arrangement's classification cap.
    INSTITUTE_REVIEWER = "institute_reviewer", "Allied institute reviewer"


# role -> permissions as "app_label.codename"
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.DEVELOPER_STAFF: [
        "submissions.add_modelsubmission",
        "submissions.change_modelsubmission",
        "submissions.view_modelsubmission",
        "submissions.submit_modelsubmission",
        "submissions.withdraw_modelsubmission",
        "submissions.answer_information_request",
        "submissions.record_release",
        "submissions.add_artifact",
        "submissions.add_weightspublication",
    ],
    Role.REVIEWER: [
        "submissions.view_modelsubmission",
        "reviews.add_evaluationresult",
        "reviews.add_finding",
        "reviews.concur_determination",
    ],
    Role.LEAD_REVIEWER: [
        "submissions.view_modelsubmission",
        "submissions.accept_modelsubmission",
        "submissions.request_information",
        "reviews.add_evaluationresult",
        "reviews.add_finding",
        "reviews.concur_determination",
        "reviews.add_determination",
        "reviews.add_assignment",
    ],
    Role.ADMINISTRATOR: [
        "submissions.view_modelsubmission",
        "submissions.accept_modelsubmission",
        "submissions.request_information",
        "submissions.record_access_removal",
        "submissions.change_agreement",
        "submissions.view_agreement",
        "reviews.add_assignment",
        "reviews.view_finding",
    ],
    Role.TRUSTED_PARTNER: ["submissions.view_partner_announcement"],
    Role.EXERCISE_CONTROLLER: [],
    Role.TRAINEE: [],
    Role.INTEGRATION_MANAGER: ["partners.manage_integrations"],
    # Records results and findings on joint reviews; never determines, concurs or assigns.
    Role.INSTITUTE_REVIEWER: [
        "submissions.view_modelsubmission",
        "reviews.add_evaluationresult",
        "reviews.add_finding",
        "joint.respond_jointreviewinvitation",
    ],
}

# The office's own roles, which an allied institute's staff never hold: an institute reviewer
# given one of them by mistake is still only an institute reviewer (closed by default).
OFFICE_ONLY_ROLES = {
    Role.ADMINISTRATOR,
    Role.LEAD_REVIEWER,
    Role.REVIEWER,
    Role.DEVELOPER_STAFF,
    Role.TRUSTED_PARTNER,
    Role.EXERCISE_CONTROLLER,
    Role.INTEGRATION_MANAGER,
}


def ensure_role_groups(**kwargs) -> None:
    """Create each role's group and give it exactly its permissions (idempotent)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)


def user_roles(user) -> set[str]:
    """The role names a user holds (cached on the instance for one request)."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_caisi_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        if Role.INSTITUTE_REVIEWER in cached:
            cached -= OFFICE_ONLY_ROLES
        user._caisi_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))
