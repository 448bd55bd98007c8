"""Who may see and do what: the one place that decides.

Every page, export and (later) API endpoint scopes its data through the ``scope_*``
functions (reached as ``Model.objects.visible_to(user)``) and asks the ``may_*``
predicates before acting. Another organization's object is simply not in scope, so
callers answer "not found" rather than "forbidden".
"""

from __future__ import annotations

from django.db.models import Q

from .roles import Role, has_role

OFFICE_ROLES = (Role.ADMINISTRATOR, Role.LEAD_REVIEWER, Role.REVIEWER)


def same_world(user, exercise_id) -> bool:
    """Live people act on live data; an exercise's players only on their exercise's."""
    return getattr(user, "exercise_id", None) == exercise_id


def _world(qs, user, field="exercise"):
    """Only the rows of the world the user is in: live, or their one exercise."""
    if user.exercise_id:
        return qs.filter(**{f"{field}_id": user.exercise_id})
    return qs.filter(**{f"{field}__isnull": True})


def is_administrator(user) -> bool:
    return has_role(user, Role.ADMINISTRATOR)


def is_office_staff(user) -> bool:
    return has_role(user, *OFFICE_ROLES)


def is_trusted_partner(user) -> bool:
    return has_role(user, Role.TRUSTED_PARTNER)


def is_developer_of(user, organization_id) -> bool:
    return (
        has_role(user, Role.DEVELOPER_STAFF) and organization_id is not None and user.organization_id == organization_id
    )


def conflicted_organization_ids(user) -> set[int]:
    """Organizations this person may not review: their own, and declared conflicts."""
    from reviews.models import ConflictOfInterest

    cached = getattr(user, "_caisi_conflicts", None)
    if cached is None:
        cached = set(ConflictOfInterest.objects.filter(reviewer=user).values_list("organization_id", flat=True))
        if user.organization_id:
            cached.add(user.organization_id)
        user._caisi_conflicts = cached
    return cached


def is_conflicted(user, organization_id) -> bool:
    return organization_id in conflicted_organization_ids(user)


def assignment_role(user, submission) -> str | None:
    """'lead', 'member' or None for this user on this submission."""
    from reviews.models import Assignment

    if not user.is_authenticated or submission.pk is None:
        return None
    return Assignment.objects.filter(submission_id=submission.pk, reviewer=user).values_list("role", flat=True).first()


# --- scopes ---------------------------------------------------------------------------


def scope_submissions(qs, user):
    from reviews.models import Assignment
    from submissions.models import ANNOUNCED_STATES, State

    if not user.is_authenticated or not user.is_active:
        return qs.none()
    # Live people never see an exercise's submissions (the indexed flag), players only theirs.
    qs = qs.filter(exercise_id=user.exercise_id) if user.exercise_id else qs.filter(is_exercise=False)
    visible = Q(pk__in=[])
    if is_administrator(user):
        # A draft is the developer's own work until it is handed over.
        visible |= ~Q(state=State.DRAFT)
    if has_role(user, Role.DEVELOPER_STAFF) and user.organization_id:
        visible |= Q(organization_id=user.organization_id)
    if has_role(user, Role.REVIEWER, Role.LEAD_REVIEWER):
        visible |= Q(pk__in=Assignment.objects.filter(reviewer=user).values("submission_id"))
    if has_role(user, Role.LEAD_REVIEWER):
        # The intake queue, less the organizations this lead may not review.
        in_intake = Q(state=State.INTAKE) | Q(state=State.INFORMATION_REQUESTED, resume_state=State.INTAKE)
        visible |= in_intake & ~Q(organization_id__in=conflicted_organization_ids(user))
    if has_role(user, Role.TRUSTED_PARTNER):
        visible |= Q(state__in=ANNOUNCED_STATES)
    return qs.filter(visible)


def scope_findings(qs, user):
    from reviews.models import Assignment

    if not user.is_authenticated or not user.is_active:
        return qs.none()
    qs = _world(qs, user, "submission__exercise")
    within_clearance = Q(classification__lte=user.clearance)
    if is_administrator(user):
        return qs.filter(within_clearance)
    if has_role(user, Role.REVIEWER, Role.LEAD_REVIEWER):
        assigned = Assignment.objects.filter(reviewer=user).values("submission_id")
        return qs.filter(within_clearance, submission_id__in=assigned)
    # Developer staff and partners never see the office's findings.
    return qs.none()


def scope_agreements(qs, user):
    if not user.is_authenticated:
        return qs.none()
    qs = _world(qs, user, "organization__exercise")
    if is_office_staff(user):
        return qs
    if user.organization_id:
        return qs.filter(organization_id=user.organization_id)
    return qs.none()


def scope_organizations(qs, user):
    """The office sees every organization; others see their own."""
    if not user.is_authenticated:
        return qs.none()
    qs = _world(qs, user)
    if is_office_staff(user):
        return qs
    return qs.filter(pk=user.organization_id) if user.organization_id else qs.none()


def reviewer_candidates(exercise_id=None):
    """People who can be assigned to a review (conflicts are checked when assigning).

    Live reviewers for live reviews; an exercise's reviewer players for its reviews.
    """
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(groups__name__in=[Role.REVIEWER, Role.LEAD_REVIEWER], is_active=True, exercise_id=exercise_id)
        .distinct()
        .order_by("last_name", "username")
    )


def scope_audit_entries(qs, user):
    if not user.is_authenticated:
        return qs.none()
    qs = _world(qs, user, "submission__exercise")
    if is_office_staff(user):
        return qs
    if has_role(user, Role.DEVELOPER_STAFF) and user.organization_id:
        # The developer follows its own submissions' public steps, not the office's work.
        return qs.filter(internal=False, submission__organization_id=user.organization_id)
    return qs.none()


# --- predicates used as FSM permissions: (submission, user) -> bool -----------------


def may_act_for_developer(perm: str):
    def check(submission, user) -> bool:
        return user.has_perm(perm) and is_developer_of(user, submission.organization_id)

    check.__name__ = f"may_act_for_developer[{perm}]"
    return check


def may_accept(submission, user) -> bool:
    if not user.has_perm("submissions.accept_modelsubmission"):
        return False
    if is_administrator(user):
        return True
    return has_role(user, Role.LEAD_REVIEWER) and not is_conflicted(user, submission.organization_id)


def may_request_information(submission, user) -> bool:
    from submissions.models import State

    if not user.has_perm("submissions.request_information"):
        return False
    if is_administrator(user) or assignment_role(user, submission) == "lead":
        return True
    return (
        submission.state == State.INTAKE
        and has_role(user, Role.LEAD_REVIEWER)
        and not is_conflicted(user, submission.organization_id)
    )


def may_determine(submission, user) -> bool:
    return user.has_perm("reviews.add_determination") and assignment_role(user, submission) == "lead"


def is_review_clock(submission, user) -> bool:
    """Only the review clock itself (no person) lets a window elapse."""
    return user is None


def may_record_access_removal(submission, user) -> bool:
    return user.has_perm("submissions.record_access_removal")


# --- predicates for actions that are not transitions ---------------------------------


def may_create_submission(user) -> bool:
    from submissions.models import Organization

    org = user.organization if user.is_authenticated else None
    return (
        user.has_perm("submissions.add_modelsubmission")
        and org is not None
        and org.kind == Organization.Kind.DEVELOPER
        and has_role(user, Role.DEVELOPER_STAFF)
    )


def may_edit_draft(user, submission) -> bool:
    from submissions.models import State

    return (
        submission.state == State.DRAFT
        and user.has_perm("submissions.change_modelsubmission")
        and is_developer_of(user, submission.organization_id)
    )


def may_upload_artifact(user, submission) -> bool:
    from submissions.models import State

    return (
        submission.state in (State.DRAFT, State.INTAKE, State.INFORMATION_REQUESTED)
        and user.has_perm("submissions.add_artifact")
        and is_developer_of(user, submission.organization_id)
    )


def may_view_artifacts(user, submission) -> bool:
    """Artifacts are for the owning developer and the office, not for partners."""
    return is_developer_of(user, submission.organization_id) or is_office_staff(user)


def may_assign_reviewers(user, submission) -> bool:
    from submissions.models import OPEN_REVIEW_STATES

    if submission.state not in OPEN_REVIEW_STATES or not user.has_perm("reviews.add_assignment"):
        return False
    if is_administrator(user):
        return True
    return has_role(user, Role.LEAD_REVIEWER) and not is_conflicted(user, submission.organization_id)


def may_record_evaluation(user, submission) -> bool:
    from submissions.models import State

    return (
        submission.state == State.EVALUATION
        and user.has_perm("reviews.add_evaluationresult")
        and assignment_role(user, submission) is not None
    )


def may_record_finding(user, submission) -> bool:
    from submissions.models import State

    return (
        submission.state == State.EVALUATION
        and user.has_perm("reviews.add_finding")
        and assignment_role(user, submission) is not None
    )


def may_propose_determination(user, submission) -> bool:
    from submissions.models import State

    return submission.state == State.EVALUATION and may_determine(submission, user)


def may_concur(user, determination) -> bool:
    """The two-person rule: an assigned reviewer other than the one who proposed."""
    from submissions.models import State

    return (
        determination.submission.state == State.EVALUATION
        and determination.issued_at is None
        and determination.concurred_by_id is None
        and determination.decided_by_id != user.pk
        and user.has_perm("reviews.concur_determination")
        and assignment_role(user, determination.submission) is not None
    )


def may_manage_agreements(user) -> bool:
    return user.has_perm("submissions.change_agreement") and is_administrator(user)


def may_see_internal_review(user, submission) -> bool:
    """Plan, results, assignments and proposals: the office's side of the review."""
    return is_administrator(user) or assignment_role(user, submission) is not None
