"""Who may see and do what: the one place that decides.

Every page, export, feed and API endpoint scopes its data through the ``scope_*``
functions (reached as ``Model.objects.visible_to(user)``) and asks the ``may_*``
predicates before acting. Another organization's object is simply not in scope, so
callers answer "not found" rather than "forbidden".

Every rule answers for a person *in a world*. A world is the live office (``LIVE``) or
one training exercise (its id). A person belongs to one world (``User.exercise``); so
does every row. A rule never answers on a role alone: an exercise player who plays an
administrator is an administrator of that exercise and of nothing else, and a live
administrator is an administrator of live data and of no exercise (the exercise's
controllers see it through its console). On top of that, the pages and operations a
player may reach at all are listed in ``PLAY_SURFACE``: anything not listed there,
including every URL added later, is closed to players until someone opens it on purpose.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from .roles import Role, has_role

OFFICE_ROLES = (Role.ADMINISTRATOR, Role.LEAD_REVIEWER, Role.REVIEWER)

# --- worlds ------------------------------------------------------------------------------

LIVE = None  # the live office's world; an exercise's world is its id


def world_of(user) -> int | None:
    """The world a person acts in: LIVE, or their exercise's id."""
    return getattr(user, "exercise_id", None) if getattr(user, "is_authenticated", False) else LIVE


def is_player(user) -> bool:
    """An exercise's own account: it sees that exercise and nothing live."""
    return world_of(user) is not LIVE


def same_world(user, exercise_id) -> bool:
    """Live people act on live data; an exercise's players only on their exercise's."""
    return world_of(user) == exercise_id


def in_world(qs, world, field="exercise"):
    """Only the rows of one world. `field` leads from the row to its `exercise` link."""
    if world is LIVE:
        return qs.filter(**{f"{field}__isnull": True})
    return qs.filter(**{f"{field}_id": world})


def _world(qs, user, field="exercise"):
    """Only the rows of the world the user is in: live, or their one exercise."""
    return in_world(qs, world_of(user), field)


# --- the play surface ----------------------------------------------------------------------
# The pages an exercise player may reach, by URL name. Everything else (the API, exports,
# the outbox's redelivery, the calendar feed, the public register, the Django admin, any
# URL added later) answers "not found" to a player. A page listed here still applies its
# own rules, in the player's world only. A partner's own settings (its digest, its Integration
# page) are not listed: an exercise's partner is simulated, and its changes have no world's
# audit chain to land in (the office's configuration trail is live).

PLAY_SURFACE = frozenset(
    {
        # signing in and out, and the second factor
        "login",
        "logout",
        "two_factor_setup",
        "two_factor_verify",
        "healthz",
        # the workflow itself
        "home",
        "profile",
        "submissions:list",
        "submissions:create",
        "submissions:detail",
        "submissions:edit",
        "submissions:action",
        "submissions:artifact_upload",
        "submissions:artifact_download",
        "submissions:agreements",
        "submissions:agreement_change",
        "reviews:assign",
        "reviews:assign_suggested",
        # a played administrator or lead hands a reviewer's assignment over, as they assign
        "reviews:end_assignment",
        "reviews:conflict_check",
        "reviews:record_result",
        "reviews:record_finding",
        "reviews:resolve_finding",
        "reviews:evidence",
        "reviews:propose_flag",
        "reviews:propose_clear",
        "reviews:concur",
        "reviews:remind",
        # joint reviews with an exercise's allied institute (invite, answer, the institute's queue)
        "joint:queue",
        "joint:invite",
        "joint:invitation",
        "joint:respond",
        "joint:withdraw",
        # a played administrator's pages, showing that exercise's rows only
        "dashboard:index",
        "dashboard:breaches",
        "dashboard:breach_ack",
        "partners:deliveries",
        # the player's own messages from the exercise
        "exercises:inbox",
    }
)
MSG_OFF_SURFACE = "This page is not part of the exercise: exercise accounts reach only the exercise's own pages."


def may_reach(user, url_name: str | None) -> bool:
    """May this person open this URL at all? Players: only the play surface."""
    if not is_player(user):
        return True
    return url_name in PLAY_SURFACE


def may_sign_in(user) -> bool:
    """Active, and for an exercise account: its exercise has not ended and its sheet password
    has not expired. Expiry is wall time on purpose: it is about the paper, not the scenario."""
    from django.utils import timezone

    if not user.is_active:
        return False
    expires = getattr(user, "password_expires_at", None)
    if expires is not None and timezone.now() >= expires:
        return False
    if user.exercise_id:
        from exercises.models import Exercise

        return Exercise.objects.filter(pk=user.exercise_id).exclude(status=Exercise.Status.ENDED).exists()
    return True


def sign_in_refusal(user) -> str:
    """Why an exercise account may not sign in, in words (shown only after a correct password)."""
    from django.utils import timezone

    if user.exercise_id:
        from exercises.models import Exercise

        ended = Exercise.objects.filter(pk=user.exercise_id, status=Exercise.Status.ENDED).exists()
        if ended or not user.is_active:
            return "This exercise has ended: its accounts no longer sign in."
        if user.password_expires_at and timezone.now() >= user.password_expires_at:
            return "This sign-in sheet password has expired. Ask the exercise's controller for a new one."
    return ""


def may_use_api(user) -> bool:
    """The API (and its tokens) is the live office's: exercises are played on the pages."""
    return not is_player(user)


def may_issue_api_token(user) -> bool:
    return user.is_authenticated and user.is_active and not is_player(user)


def may_hold_calendar_link(user) -> bool:
    return user.is_authenticated and user.is_active and not is_player(user)


def is_administrator(user) -> bool:
    """An administrator of the world this person is in (see world_of)."""
    return has_role(user, Role.ADMINISTRATOR)


def is_office_staff(user) -> bool:
    return has_role(user, *OFFICE_ROLES)


def is_trusted_partner(user) -> bool:
    return has_role(user, Role.TRUSTED_PARTNER)


def is_developer_of(user, organization_id) -> bool:
    # Organization ids are unique across worlds: a live developer is never one of an exercise's.
    return (
        has_role(user, Role.DEVELOPER_STAFF) and organization_id is not None and user.organization_id == organization_id
    )


def is_developer_or_office(user, submission) -> bool:
    """The two sides of a review: the developer's staff and the office (not partners)."""
    return same_world(user, submission.exercise_id) and (
        is_developer_of(user, submission.organization_id) or is_office_staff(user)
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


def conflicted_with(organization_id) -> Q:
    """The people conflicted with one organization, as a filter (the rule above, for lists)."""
    from reviews.models import ConflictOfInterest

    declared = ConflictOfInterest.objects.filter(organization_id=organization_id).values("reviewer_id")
    return Q(organization_id=organization_id) | Q(pk__in=declared)


def conflict_reasons(reviewers, organizations) -> dict[tuple[int, int], list[str]]:
    """Why each of these people may not review each of these organizations, in words.

    The same rule as conflicted_organization_ids (their own organization, and each recorded
    conflict), for many people and organizations in one query: {(reviewer id, organization
    id): ["works for Lab Alpha", "declared conflict with Lab Alpha"]}; a pair with no
    conflict is absent.
    """
    from reviews.models import ConflictOfInterest

    reviewers, organizations = list(reviewers), list(organizations)
    names = {o.pk: o.name for o in organizations}
    out: dict[tuple[int, int], list[str]] = {}
    for person in reviewers:
        if person.organization_id in names:
            out.setdefault((person.pk, person.organization_id), []).append(f"works for {names[person.organization_id]}")
    recorded = ConflictOfInterest.objects.filter(
        reviewer_id__in=[p.pk for p in reviewers], organization_id__in=list(names)
    ).values_list("reviewer_id", "organization_id", "kind")
    wording = {
        ConflictOfInterest.Kind.DECLARED: "declared conflict with",
        ConflictOfInterest.Kind.AFFILIATION: "affiliated with",
    }
    for reviewer_id, organization_id, kind in recorded:
        out.setdefault((reviewer_id, organization_id), []).append(
            f"{wording.get(kind, 'conflict with')} {names[organization_id]}"
        )
    return out


def clearance_needed(submission) -> int:
    """The clearance a reviewer of this submission needs: the highest classification of its
    evidence so far (domains carry none), UNCLASSIFIED while there is none. It is the bar
    concurrence_refusal sets for the two-person rule, applied when choosing people."""
    return highest_finding_classification(submission) or 0


def may_check_conflicts(user) -> bool:
    """The conflict check on its own: those who assign reviewers (administrators and lead
    reviewers holding the assignment permission), for the people of their own world."""
    return assigns_by_role(user) and user.has_perm("reviews.add_assignment")


def may_check_release_gate(user) -> bool:
    """The release gate answers labs' pipelines (developer staff, about their own models) and the
    office (about what it reviews); it reads from the caller's scope_submissions. Live accounts
    only, as all of the API."""
    return (
        _signed_in(user)
        and may_use_api(user)
        and ((has_role(user, Role.DEVELOPER_STAFF) and user.organization_id is not None) or is_office_staff(user))
    )


def assigns_by_role(user) -> bool:
    """Administrators and lead reviewers: the roles that assign. The menu asks only this on
    every page (roles are cached, permissions cost a query); the page asks may_check_conflicts."""
    return _signed_in(user) and (is_administrator(user) or has_role(user, Role.LEAD_REVIEWER))


def may_declare_expertise(user) -> bool:
    """A live reviewer says which domains they know, on their own profile (it ranks assignment
    suggestions). Exercise players do not: their declarations would sit in the live audit chain."""
    return _signed_in(user) and not is_player(user) and has_role(user, Role.REVIEWER, Role.LEAD_REVIEWER)


def may_declare_leave(user) -> bool:
    """A live reviewer records their own leave on their profile (suggestions then pass them
    over for reviews in that time). Not players, for the same reason as expertise."""
    return may_declare_expertise(user)


def assignment_role(user, submission) -> str | None:
    """'lead', 'member' or None for this user on this submission."""
    from reviews.models import Assignment

    if not user.is_authenticated or submission.pk is None or not same_world(user, submission.exercise_id):
        return None
    return Assignment.objects.filter(submission_id=submission.pk, reviewer=user).values_list("role", flat=True).first()


def actor_as_shown_to(viewer, actor, submission) -> str | None:
    """Who did it, as this viewer may know: the office names its own people; a developer sees
    its own colleagues by name and the office's decisions as the office's, not a person's."""
    if actor is None:
        return None
    if is_office_staff(viewer) or is_developer_of(actor, submission.organization_id):
        return str(actor)
    return "Review office"


# --- scopes: the rows of the person's world they may know exist ------------------------------


def _signed_in(user) -> bool:
    return user.is_authenticated and user.is_active


def scope_submissions(qs, user):
    from reviews.models import Assignment
    from submissions.models import ANNOUNCED_STATES, State

    if not _signed_in(user):
        return qs.none()
    # Live people never see an exercise's submissions (the indexed flag), players only theirs.
    qs = qs.filter(exercise_id=user.exercise_id) if is_player(user) else qs.filter(is_exercise=False)
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
    if is_institute_reviewer(user):
        # Only the reviews their institute joined, under an arrangement in force, unconflicted.
        visible |= Q(pk__in=joint_invitations_in_force(user).values("submission_id"))
    return qs.filter(visible)


def _scope_office_evidence(qs, user, classification: str, readable: int):
    """The office's evidence on a review (findings, results), judged by its `classification`
    field: administrators up to `readable`; reviewers up to it on the reviews they are assigned;
    an allied institute's reviewer up to the stricter of it and their institute's arrangement's
    cap for that review, on the reviews their institute joined. Developer staff and partners
    never see the office's evidence."""
    from reviews.models import Assignment

    within_clearance = Q(**{f"{classification}__lte": readable})
    if is_administrator(user):
        return qs.filter(within_clearance)
    if has_role(user, Role.REVIEWER, Role.LEAD_REVIEWER):
        assigned = Assignment.objects.filter(reviewer=user).values("submission_id")
        return qs.filter(within_clearance, submission_id__in=assigned)
    if is_institute_reviewer(user):
        within_cap = joint_invitations_in_force(user).filter(
            submission_id=OuterRef("submission_id"), arrangement__classification_cap__gte=OuterRef(classification)
        )
        return qs.filter(within_clearance).filter(Exists(within_cap))
    return qs.none()


def scope_findings(qs, user):
    if not _signed_in(user):
        return qs.none()
    return _scope_office_evidence(_world(qs, user, "submission__exercise"), user, "classification", user.clearance)


def scope_results(qs, user):
    """Evaluation results whose benchmark version this person is cleared for, on the reviews
    they see the office's side of (the findings' rule, by the version's classification). Of
    the others, a page says only that a result exists above their clearance, and its domain."""
    from accounts.models import Clearance

    if not _signed_in(user):
        return qs.none()
    # An exercise reads unclassified benchmarks only, as evidence_clearance says.
    readable = min(user.clearance, Clearance.UNCLASSIFIED) if is_player(user) else user.clearance
    qs = _world(qs, user, "submission__exercise")
    return _scope_office_evidence(qs, user, "version__classification", readable)


# Below every classification: nothing is readable (UNCLASSIFIED is 0, and `<=` compares).
NOTHING_READABLE = -1


def evidence_clearance(user, submission) -> int:
    """The highest classification of benchmark evidence this person may read on this review,
    closed by default: the office's staff of the review's world read up to their clearance; an
    allied institute's reviewer up to the stricter of it and their arrangement's cap, and nothing
    without an arrangement in force (a home clearance opens nothing here by itself); anyone else
    nothing (NOTHING_READABLE). In an exercise, at most UNCLASSIFIED: a player's clearance is
    simulated and the catalog is real, so an exercise plans unclassified versions only
    (exercises.services.measurable_domains, reviews.services.plannable_versions)."""
    from accounts.models import Clearance

    if not _signed_in(user) or not same_world(user, submission.exercise_id):
        return NOTHING_READABLE
    if is_institute_reviewer(user):
        # Their institute role outweighs any office role given them by mistake.
        cap = joint_cap(user, submission)
        readable = NOTHING_READABLE if cap is None else cap
    elif is_office_staff(user):
        readable = user.clearance
    else:
        return NOTHING_READABLE
    if submission.exercise_id is not None:
        readable = min(readable, Clearance.UNCLASSIFIED)
    return readable


def may_record_against(user, submission, version) -> bool:
    """A result is recorded only against a version the recorder is cleared for (and, on a
    joint review, within the arrangement's cap): nobody writes a score they could not read."""
    return version.classification <= evidence_clearance(user, submission)


def scope_agreements(qs, user):
    if not _signed_in(user):
        return qs.none()
    qs = _world(qs, user, "organization__exercise")
    if is_office_staff(user):
        return qs
    if user.organization_id:
        return qs.filter(organization_id=user.organization_id)
    return qs.none()


def scope_organizations(qs, user):
    """The office sees every organization of its world; others see their own."""
    if not _signed_in(user):
        return qs.none()
    qs = _world(qs, user)
    if is_office_staff(user):
        return qs
    return qs.filter(pk=user.organization_id) if user.organization_id else qs.none()


def scope_developer_organizations(user):
    """The developers an administrator filters lists by: those of their own world."""
    from submissions.models import Organization

    if not is_administrator(user):
        return Organization.objects.none()
    return _world(Organization.objects.filter(kind=Organization.Kind.DEVELOPER), user)


def reviewer_candidates(world=LIVE):
    """People who can be assigned to a review in one world (conflicts are checked when assigning).

    Live reviewers for live reviews; an exercise's reviewer players for its reviews.
    """
    from django.contrib.auth import get_user_model

    memberships = get_user_model().groups.through.objects
    return (
        get_user_model()
        .objects.filter(groups__name__in=[Role.REVIEWER, Role.LEAD_REVIEWER], is_active=True, exercise_id=world)
        # An allied institute's staff join reviews through their institute's invitation, never
        # by assignment (accounts.roles: their institute role outweighs any office role).
        # Through the membership table: a Group's reverse "user" is NULL for an empty group,
        # and NOT IN (NULL) would leave no one at all.
        .exclude(pk__in=memberships.filter(group__name=Role.INSTITUTE_REVIEWER).values("user_id"))
        .distinct()
        .order_by("last_name", "username")
    )


def conflict_check_candidates(world=LIVE):
    """The people a conflict check answers for: the office's reviewers and the allied
    institutes' reviewers (the same conflict rules hold for both), of one world."""
    from django.contrib.auth import get_user_model

    names = [Role.REVIEWER, Role.LEAD_REVIEWER, Role.INSTITUTE_REVIEWER]
    return (
        get_user_model()
        .objects.filter(groups__name__in=names, is_active=True, exercise_id=world)
        .distinct()
        .order_by("last_name", "username")
    )


def scope_audit_entries(qs, user):
    if not _signed_in(user):
        return qs.none()
    qs = _world(qs, user, "submission__exercise")
    if is_office_staff(user):
        return qs
    if has_role(user, Role.DEVELOPER_STAFF) and user.organization_id:
        # The developer follows its own submissions' public steps, not the office's work.
        return qs.filter(internal=False, submission__organization_id=user.organization_id)
    if is_institute_reviewer(user):
        # An allied institute's reviewer: the public steps of the reviews their institute joined
        # (what the developer sees), never the office's internal trail.
        joined = joint_invitations_in_force(user).values("submission_id")
        return qs.filter(internal=False, submission_id__in=joined)
    return qs.none()


def in_world_of_submission(qs, world, field="submission"):
    """Rows that belong to a submission, of one world. Live: the exercise rows left out
    through their small partial index (a hashed subplan, not a join)."""
    from submissions.models import ModelSubmission

    if world is LIVE:
        return qs.exclude(**{f"{field}__in": ModelSubmission.objects.filter(is_exercise=True).values("pk")})
    return qs.filter(**{f"{field}__exercise_id": world})


def scope_breaches(qs, user):
    """SLA breaches: an administrator's, of their own world."""
    if not (_signed_in(user) and is_administrator(user)):
        return qs.none()
    return in_world_of_submission(qs, world_of(user))


def scope_deliveries(qs, user):
    """The outbox: an administrator's, of their own world (an exercise's is recorded, never sent)."""
    if not (_signed_in(user) and is_administrator(user)):
        return qs.none()
    return in_world_of_submission(qs, world_of(user), "event__submission")


def may_view_held_notifications(user) -> bool:
    """A person's own emails waiting for their digest: every signed-in live account (an
    exercise's mail is recorded at once, never held, so a player has none)."""
    return _signed_in(user) and not is_player(user)


def scope_held_deliveries(qs, user):
    """A person's own emails held for their digest, and nobody else's: an administrator sees
    everyone's in the outbox (scope_deliveries), a partner's staff their organization's on its
    Integration page; here, each person only what is addressed to them."""
    if not may_view_held_notifications(user):
        return qs.none()
    return qs.filter(recipient=user, channel="email", status="held")


def scope_trusted_partners(qs, user):
    """Partners' settings (secrets, endpoints): live administrators only, live partners only."""
    if not (_signed_in(user) and is_administrator(user)) or is_player(user):
        return qs.none()
    return qs.filter(is_exercise=False, organization__exercise__isnull=True)


def scope_partner_organizations(qs, user):
    """Organizations a live administrator may give partner settings to."""
    from submissions.models import Organization

    if not (_signed_in(user) and is_administrator(user)) or is_player(user):
        return qs.none()
    return qs.filter(kind=Organization.Kind.TRUSTED_PARTNER, exercise__isnull=True)


def scope_demo_inbox(qs, user):
    """The demo receiver's inbox plays the partners' side: all of it for a live
    administrator, a partner's own for its staff. Exercise partners are never sent anything."""
    if not _signed_in(user) or is_player(user):
        return qs.none()
    qs = qs.filter(partner__is_exercise=False, partner__organization__exercise__isnull=True)
    if is_administrator(user):
        return qs
    if is_trusted_partner(user) and user.organization_id:
        return qs.filter(partner__organization_id=user.organization_id)
    return qs.none()


# --- predicates used as FSM permissions: (submission, user) -> bool -----------------


def may_act_for_developer(perm: str):
    def check(submission, user) -> bool:
        return (
            same_world(user, submission.exercise_id)
            and user.has_perm(perm)
            and is_developer_of(user, submission.organization_id)
        )

    check.__name__ = f"may_act_for_developer[{perm}]"
    return check


def may_accept(submission, user) -> bool:
    if not (same_world(user, submission.exercise_id) and user.has_perm("submissions.accept_modelsubmission")):
        return False
    if is_administrator(user):
        return True
    return has_role(user, Role.LEAD_REVIEWER) and not is_conflicted(user, submission.organization_id)


def may_request_information(submission, user) -> bool:
    from submissions.models import State

    if not (same_world(user, submission.exercise_id) and user.has_perm("submissions.request_information")):
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
    """Only the review clock itself (no person) lets a window elapse, or returns a submission
    whose information request went unanswered past the pause limit."""
    return user is None


def may_record_access_removal(submission, user) -> bool:
    """Government orders (record, lift): the administrators of the submission's world."""
    return (
        same_world(user, submission.exercise_id)
        and user.has_perm("submissions.record_access_removal")
        and is_administrator(user)
    )


# --- predicates for actions that are not transitions ---------------------------------


def may_withdraw_for_agreement(submission, user) -> bool:
    """An administrator of the submission's world who manages agreements ends an open review
    once its agreement is suspended or terminated. While the agreement holds, nobody in the
    office may (so the action is not offered beside every open review); its guard says the
    same to someone whose page was older than the agreement's reinstatement."""
    from submissions.models import Agreement

    return (
        user is not None
        and same_world(user, submission.exercise_id)
        and is_administrator(user)
        and user.has_perm("submissions.change_agreement")
        and Agreement.objects.filter(
            organization_id=submission.organization_id,
            status__in=(Agreement.Status.SUSPENDED, Agreement.Status.TERMINATED),
        ).exists()
    )


def may_record_access_order(user, submission) -> bool:
    """Record a government order (on a deployed model, or a hold before release): administrators."""
    from submissions.states import ORDER_HOLD_STATES, ORDER_REMOVAL_STATES

    return submission.state in (*ORDER_REMOVAL_STATES, *ORDER_HOLD_STATES) and may_record_access_removal(
        submission, user
    )


def may_lift_access_order(user, order) -> bool:
    """Lift an order in force (reinstatement): the administrators of its world."""
    return order.lifted_at is None and may_record_access_removal(order.submission, user)


def may_view_access_orders(user, submission) -> bool:
    """Orders are public facts about a model: whoever may see the submission sees them
    (the scope is the caller's; the recorder's name is the office's business, see actor_as_shown_to)."""
    return _signed_in(user) and same_world(user, submission.exercise_id)


def may_record_weights_publication(user, submission) -> bool:
    """The developer's staff say where their own open-weights model was published (any time
    after it was submitted: weights may be out before the review ends)."""
    from submissions.models import ReleaseChannel, State

    return (
        submission.release_channel == ReleaseChannel.OPEN_WEIGHTS
        and submission.state not in (State.DRAFT, State.WITHDRAWN)
        and same_world(user, submission.exercise_id)
        and user.has_perm("submissions.add_weightspublication")
        and is_developer_of(user, submission.organization_id)
    )


def weights_withdrawal_refusal(user, submission, *, order_in_force: bool) -> str:
    """Why this person may not withdraw a publication record of this submission ("" when they may).

    The developer's own staff correct their mistakes; while a government order is in force its
    notices named these files, so only the office (the world's administrators) withdraws one then."""
    if order_in_force and may_record_access_removal(submission, user):
        return ""
    if not may_record_weights_publication(user, submission):
        return "Only the developer's staff withdraw their own model's publication records."
    if order_in_force:
        return (
            "A government order is in force on this model and its notices named these files: "
            "ask the office to withdraw the record."
        )
    return ""


def may_propose_advisory(user, submission) -> bool:
    """An advisory on a released model: the review's lead proposes it."""
    from submissions.models import State

    return (
        submission.state == State.RELEASED
        and same_world(user, submission.exercise_id)
        and may_determine(submission, user)
    )


def advisory_concurrence_refusal(user, advisory) -> str:
    """Why this person may not concur with (and so issue) this advisory ("" when they may):
    the two-person rule as for a flag, a second assigned reviewer cleared for every finding."""
    from submissions.models import State

    submission = advisory.submission
    if advisory.issued_at is not None or submission.state != State.RELEASED:
        return "The advisory is no longer open for concurrence."
    if not same_world(user, submission.exercise_id):
        return "Only a reviewer assigned to this submission can concur."
    if advisory.proposed_by_id == user.pk:
        return "You proposed this advisory: a second reviewer must concur."
    if not user.has_perm("reviews.concur_determination") or assignment_role(user, submission) is None:
        return "Only a reviewer assigned to this submission can concur."
    highest = highest_finding_classification(submission)
    if highest is not None and user.clearance < highest:
        from accounts.models import Clearance

        return (
            f"Evidence on this submission is classified {Clearance(highest).label}, above your clearance: "
            "concurring needs someone who has seen all the evidence."
        )
    return ""


def may_concur_advisory(user, advisory) -> bool:
    return not advisory_concurrence_refusal(user, advisory)


def may_create_submission(user) -> bool:
    from submissions.models import Organization

    org = user.organization if user.is_authenticated else None
    return (
        user.has_perm("submissions.add_modelsubmission")
        and org is not None
        and org.kind == Organization.Kind.DEVELOPER
        # A player files in their exercise's organization, a live developer in a live one.
        and same_world(user, org.exercise_id)
        and has_role(user, Role.DEVELOPER_STAFF)
    )


def may_edit_draft(user, submission) -> bool:
    from submissions.models import State

    return (
        submission.state == State.DRAFT
        and same_world(user, submission.exercise_id)
        and user.has_perm("submissions.change_modelsubmission")
        and is_developer_of(user, submission.organization_id)
    )


def may_upload_artifact(user, submission) -> bool:
    from submissions.models import State

    return (
        submission.state in (State.DRAFT, State.INTAKE, State.INFORMATION_REQUESTED)
        and same_world(user, submission.exercise_id)
        and user.has_perm("submissions.add_artifact")
        and is_developer_of(user, submission.organization_id)
    )


def may_view_artifacts(user, submission) -> bool:
    """Artifacts are for the owning developer and the office, not for partners."""
    return is_developer_or_office(user, submission)


def may_view_review_clock(user, submission) -> bool:
    """The review clock is the developer's and the office's business (and a joint review's
    institute reviewers', who work to its deadline), not partners'."""
    return is_developer_or_office(user, submission) or takes_part_jointly(user, submission)


def may_view_information_requests(user, submission) -> bool:
    return is_developer_or_office(user, submission)


def may_assign_reviewers(user, submission) -> bool:
    from submissions.models import OPEN_REVIEW_STATES

    if (
        submission.state not in OPEN_REVIEW_STATES
        or not same_world(user, submission.exercise_id)
        or not user.has_perm("reviews.add_assignment")
    ):
        return False
    if is_administrator(user):
        return True
    return has_role(user, Role.LEAD_REVIEWER) and not is_conflicted(user, submission.organization_id)


def may_end_assignments(user, submission) -> bool:
    """End a reviewer's assignment on this review, or hand it to another reviewer: whoever may
    assign reviewers to it (the service keeps the lead and two-person rules)."""
    return may_assign_reviewers(user, submission)


def may_lead_on_accept(user, submission) -> bool:
    """A lead reviewer accepting an intake may take the lead at once (none yet, no conflict)."""
    return (
        has_role(user, Role.LEAD_REVIEWER)
        and same_world(user, submission.exercise_id)
        and not is_conflicted(user, submission.organization_id)
        and not submission.assignments.filter(role="lead").exists()
    )


def may_record_evaluation(user, submission) -> bool:
    """In evaluation, and after the window elapsed (a late determination needs its results)."""
    from submissions.states import DETERMINABLE_STATES

    return (
        submission.state in DETERMINABLE_STATES
        and user.has_perm("reviews.add_evaluationresult")
        and (assignment_role(user, submission) is not None or takes_part_jointly(user, submission))
    )


def may_plan_evaluation(user, submission) -> bool:
    """Which benchmark versions measure each planned domain: the review's lead, while results
    may still be recorded."""
    from submissions.states import DETERMINABLE_STATES

    return (
        submission.state in DETERMINABLE_STATES
        and same_world(user, submission.exercise_id)
        and user.has_perm("reviews.add_evaluationresult")
        and assignment_role(user, submission) == "lead"
    )


def may_record_finding(user, submission) -> bool:
    """In evaluation, after the window, and after release (an advisory rests on it)."""
    from submissions.states import FINDING_STATES

    return (
        submission.state in FINDING_STATES
        and user.has_perm("reviews.add_finding")
        and (assignment_role(user, submission) is not None or takes_part_jointly(user, submission))
    )


def may_propose_determination(user, submission) -> bool:
    """In evaluation, and late, after the window elapsed (submissions.states.DETERMINABLE_STATES)."""
    from submissions.states import DETERMINABLE_STATES

    return (
        submission.state in DETERMINABLE_STATES
        and same_world(user, submission.exercise_id)
        and may_determine(submission, user)
    )


def concurrence_refusal(user, determination) -> str:
    """Why this person may not concur with this proposal ("" when they may).

    The two-person rule: a second assigned reviewer, not the proposer, who has seen all the
    evidence: cleared for every finding on the submission, whatever its classification.
    """
    from submissions.states import DETERMINABLE_STATES

    if determination.submission.state not in DETERMINABLE_STATES or determination.issued_at is not None:
        return "The review is no longer open for concurrence."
    if determination.concurred_by_id is not None and determination.concurrence_holds:
        return "A second reviewer has already concurred with this proposal."
    if determination.decided_by_id == user.pk:
        return "You proposed this determination: a second reviewer must concur."
    if not user.has_perm("reviews.concur_determination") or assignment_role(user, determination.submission) is None:
        return "Only a reviewer assigned to this submission can concur."
    highest = highest_finding_classification(determination.submission)
    if highest is not None and user.clearance < highest:
        from accounts.models import Clearance

        return (
            f"Evidence on this submission is classified {Clearance(highest).label}, above your clearance: "
            "concurring needs someone who has seen all the evidence."
        )
    return ""


def highest_finding_classification(submission) -> int | None:
    """The highest classification of the review's evidence: its findings and its results (by
    their benchmark version's classification). None while there is none."""
    from django.db.models import Max

    finding = submission.findings.aggregate(top=Max("classification"))["top"]
    result = submission.results.aggregate(top=Max("version__classification"))["top"]
    found = [c for c in (finding, result) if c is not None]
    return max(found) if found else None


def may_concur(user, determination) -> bool:
    """The two-person rule (see concurrence_refusal)."""
    return not concurrence_refusal(user, determination)


def may_remind_reviewer(user, assignment) -> bool:
    """The Remind button: the lead of that review or an administrator, of its world, reminds
    someone else (a lead reminds their reviewers; an administrator may remind the lead too).
    Whether the results are overdue is the service's question, not a permission."""
    submission = assignment.submission
    if not user.is_authenticated or not same_world(user, submission.exercise_id):
        return False
    if assignment.reviewer_id == user.pk:
        return False
    return is_administrator(user) or assignment_role(user, submission) == "lead"


def may_view_sla_policy(user) -> bool:
    """The SLA targets and reminder offsets: the office's own working rules, shown to its staff
    (developers see their own submissions' obligations, which carry the due times that matter
    to them; the office's internal escalation steps are not theirs to plan around)."""
    return user.is_authenticated and is_office_staff(user)


def may_view_sla_obligations(user, submission) -> bool:
    """A submission's SLA obligations go with its review clock: the developer and the office."""
    return may_view_review_clock(user, submission)


def may_see_internal_review(user, submission) -> bool:
    """Plan, results, assignments and proposals: the office's side of the review."""
    if not same_world(user, submission.exercise_id):
        return False
    return is_administrator(user) or assignment_role(user, submission) is not None


def may_see_version_deltas(user, submission) -> bool:
    """A new version's results compared with the version it supersedes: whoever sees this
    review's results (the office's side of it, and a joint review's institute reviewers)."""
    return _signed_in(user) and may_see_joint_work(user, submission)


def may_see_earlier_results(user, earlier) -> bool:
    """The earlier version's side of the comparison: only for someone who may see that
    version's results themselves. A result hidden from a reader stays hidden in the deltas."""
    return _signed_in(user) and may_see_joint_work(user, earlier)


def may_resolve_findings_on(user, submission) -> bool:
    """Resolving findings carried from the earlier version: the re-review's lead reviewer, of its
    world, while the review can still be determined (in evaluation, or late, after its window)."""
    from submissions.states import DETERMINABLE_STATES

    return (
        _signed_in(user)
        and submission.state in DETERMINABLE_STATES
        and same_world(user, submission.exercise_id)
        and may_determine(submission, user)
    )


def finding_resolvable_by(user, finding) -> bool:
    """The finding's own part: carried, still open, and within the person's clearance."""
    return (
        finding.carried_from_id is not None
        and finding.resolved_at is None
        and finding.classification <= (user.clearance if _signed_in(user) else -1)
    )


def may_resolve_finding(user, finding) -> bool:
    """Resolve one carried finding (both parts above)."""
    return finding_resolvable_by(user, finding) and may_resolve_findings_on(user, finding.submission)


def may_publish(user, submission) -> bool:
    """The public register lists live reviews only, by a live administrator's choice."""
    return is_administrator(user) and not is_player(user) and not submission.is_exercise


def may_tell_followers(submission) -> bool:
    """The register's followers (register.Subscription) hear of live reviews only, and only
    when the register itself changes (a review listed or withdrawn): exercise data never."""
    return not submission.is_exercise and submission.exercise_id is None


# --- the office's own records: agreements, breaches, the outbox, exports ----------------


def may_manage_agreements(user, agreement=None) -> bool:
    """An administrator changes the agreements of their own world (one given, or any)."""
    if not (user.has_perm("submissions.change_agreement") and is_administrator(user)):
        return False
    return agreement is None or same_world(user, agreement.organization.exercise_id)


def may_view_agreements(user) -> bool:
    """The agreements page: the office sees its world's, developers their own."""
    return user.is_authenticated and (is_office_staff(user) or has_role(user, Role.DEVELOPER_STAFF))


def may_view_dashboard(user) -> bool:
    """The administrators' dashboard and breach list: of their own world's rows."""
    return user.is_authenticated and is_administrator(user)


def may_acknowledge_breach(user, breach) -> bool:
    return may_view_dashboard(user) and same_world(user, breach.submission.exercise_id)


def may_view_deliveries(user) -> bool:
    return user.is_authenticated and is_administrator(user)


def may_redeliver(user, delivery) -> bool:
    """Only live notifications are ever sent, so only they are sent again: by the office's
    administrators, or by the staff of the partner the delivery is for."""
    return (
        user.is_authenticated
        and not is_player(user)
        and (is_administrator(user) or is_partner_staff_of(user, delivery.partner))
        and (delivery.partner is None or not delivery.partner.is_exercise)
        and (delivery.event is None or not delivery.event.is_exercise)
        and (delivery.event is None or delivery.event.submission.exercise_id is None)
    )


def may_manage_partners(user) -> bool:
    """Partners' endpoints and secrets: live administrators only."""
    return user.is_authenticated and is_administrator(user) and not is_player(user)


def may_change_configuration(user) -> bool:
    """Domains, SLA policies, organizations, partners, accounts (the Django admin and the API):
    live superusers and live administrators."""
    return user.is_authenticated and not is_player(user) and (user.is_superuser or is_administrator(user))


def may_export(user) -> bool:
    """CSV exports of the office's records: live administrators, live rows."""
    return user.is_authenticated and is_administrator(user) and not is_player(user)


def partner_settings_of(user):
    """The live trusted partner whose own settings this person runs (the email digest, the
    Integration page): their own organization's, for its staff (a partner's settings are its
    own business); else None. Asked once per request (the menu, the page, the service)."""
    from partners.models import TrustedPartner

    if not (user.is_authenticated and is_trusted_partner(user)) or is_player(user) or not user.organization_id:
        return None
    cached = getattr(user, "_caisi_partner", None)
    if cached is None or cached.organization_id != user.organization_id:
        cached = user._caisi_partner = (
            TrustedPartner.objects.select_related("organization")
            .filter(organization_id=user.organization_id, is_exercise=False, organization__exercise__isnull=True)
            .first()
        )
    return cached


def is_partner_staff_of(user, partner) -> bool:
    """A trusted partner's own staff, in the partner's world. Exercise partners are played on
    the exercise's pages, which do not include a partner's settings: no player runs one."""
    return (
        partner is not None
        and user.is_authenticated
        and is_trusted_partner(user)
        and not is_player(user)
        and not partner.is_exercise
        and user.organization_id is not None
        and user.organization_id == partner.organization_id
    )


def may_view_partner_integration(user) -> bool:
    """The Integration page (and its API): a partner's staff, for their own organization."""
    return partner_settings_of(user) is not None


def scope_partner_deliveries(qs, user, partner):
    """One partner's deliveries (its webhooks, emails to its addresses, alerts to its staff):
    for its own staff and the office's administrators; an exercise partner's for nobody here."""
    if not (is_partner_staff_of(user, partner) or may_manage_partner(user, partner)):
        return qs.none()
    return qs.filter(partner=partner)


def may_manage_partner(user, partner) -> bool:
    """A live partner's endpoint and secret: the office's (live) administrators."""
    return partner is not None and may_manage_partners(user) and not partner.is_exercise


def may_run_partner_webhooks(user, partner) -> bool:
    """Send a test, pause and resume, rotate the secret: the partner's own staff, and the
    office's administrators (who keep every power over a live partner's settings)."""
    return is_partner_staff_of(user, partner) or may_manage_partner(user, partner)


def may_set_partner_digest(user) -> bool:
    return partner_settings_of(user) is not None


def may_manage_integrations(user) -> bool:
    """A developer organization's webhook endpoints: its integration managers (developer staff
    holding partners.manage_integrations), live only. Exercise players never (their
    organization's endpoints, if any, are the exercise's, recorded and never sent)."""
    return (
        _signed_in(user)
        and not is_player(user)
        and bool(user.organization_id)
        and has_role(user, Role.DEVELOPER_STAFF)
        and user.has_perm("partners.manage_integrations")
    )


def may_manage_endpoint(user, endpoint) -> bool:
    """This endpoint: its own organization's integration managers, live endpoints only."""
    return (
        may_manage_integrations(user) and endpoint.organization_id == user.organization_id and not endpoint.is_exercise
    )


def scope_webhook_endpoints(qs, user):
    """The endpoints a person manages: their own live developer organization's, if they may."""
    if not may_manage_integrations(user):
        return qs.none()
    return qs.filter(
        organization_id=user.organization_id,
        organization__kind="developer",
        organization__exercise__isnull=True,
        is_exercise=False,
    )


def may_view_demo_inbox(user) -> bool:
    return user.is_authenticated and not is_player(user) and (is_administrator(user) or is_trusted_partner(user))


def sees_only_own_demo_inbox(user) -> bool:
    """A partner's staff see the messages sent to their organization (scope_demo_inbox); an
    administrator sees every partner's. The page and the menu name it accordingly."""
    return may_view_demo_inbox(user) and not is_administrator(user)


# --- training exercises ---------------------------------------------------------------------
# Controllers and evaluators are live accounts; they see an exercise through its console.


def may_create_exercise(user) -> bool:
    return (
        user.is_authenticated and not is_player(user) and has_role(user, Role.EXERCISE_CONTROLLER, Role.ADMINISTRATOR)
    )


def scope_exercises(qs, user):
    """The exercises a person runs or evaluates (live administrators: all)."""
    if not _signed_in(user) or is_player(user):
        return qs.none()
    if is_administrator(user):
        return qs
    return qs.filter(participants__user=user, participants__role__in=["controller", "evaluator"]).distinct()


def _exercise_part(user, exercise) -> set[str]:
    cached = getattr(user, "_caisi_exercise_parts", None)
    if cached is None:
        cached = user._caisi_exercise_parts = {}
    if exercise.pk not in cached:
        cached[exercise.pk] = set(exercise.participants.filter(user=user).values_list("role", flat=True))
    return cached[exercise.pk]


def may_run_exercise(user, exercise) -> bool:
    """Controllers of this exercise, and live administrators."""
    if not user.is_authenticated or is_player(user):
        return False
    return is_administrator(user) or "controller" in _exercise_part(user, exercise)


def may_evaluate_exercise(user, exercise) -> bool:
    if not user.is_authenticated or is_player(user):
        return False
    return may_run_exercise(user, exercise) or "evaluator" in _exercise_part(user, exercise)


def may_reset_player_password(user, exercise, player) -> bool:
    """A new sign-in for a player of a running (or not yet started) exercise only."""
    from exercises.models import Exercise

    return (
        may_run_exercise(user, exercise)
        and player.exercise_id == exercise.pk
        and player.is_active
        and exercise.status != Exercise.Status.ENDED
    )


def holds_exercise_credentials(user) -> bool:
    """Controllers and evaluators see sign-in sheets and reset players' passwords, so they
    sign in with a second factor like office staff."""
    from exercises.models import Participant

    if not user.is_authenticated or is_player(user):
        return False
    if has_role(user, Role.EXERCISE_CONTROLLER):
        return True
    cached = getattr(user, "_caisi_holds_credentials", None)  # asked on every request: once each
    if cached is None:
        cached = user._caisi_holds_credentials = Participant.objects.filter(
            user=user, role__in=[Participant.Role.CONTROLLER, Participant.Role.EVALUATOR]
        ).exists()
    return cached


def may_read_exercise_inbox(user) -> bool:
    return is_player(user)


# --- navigation: the same rules, as flags for the menu ----------------------------------------


def navigation(user) -> dict[str, bool]:
    """Which menu entries this person has; each flag is a rule above, never a role string."""
    from django.conf import settings

    if not user.is_authenticated:
        return {}
    return {
        "dashboard": may_view_dashboard(user),
        "agreements": may_view_agreements(user),
        "conflict_check": assigns_by_role(user),
        "notifications": may_view_deliveries(user),
        # Roles only (cached): the page asks may_manage_integrations, permission included.
        "integrations": (
            not is_player(user)
            and has_role(user, Role.DEVELOPER_STAFF)
            and has_role(user, Role.INTEGRATION_MANAGER)
            and bool(user.organization_id)
        ),
        "exports": may_export(user),
        "benchmarks": may_view_benchmark_catalog(user),
        "capacity": may_plan_capacity(user),
        "exercises": may_create_exercise(user) or scope_exercises_exists(user),
        "exercise_inbox": may_read_exercise_inbox(user),
        "joint_queue": is_institute_reviewer(user),
        "arrangements": may_manage_arrangements(user),
        "demo_inbox": settings.DEMO_WEBHOOK_RECEIVER and may_view_demo_inbox(user),
        "demo_inbox_own": settings.DEMO_WEBHOOK_RECEIVER and sees_only_own_demo_inbox(user),
        "partner_integration": may_view_partner_integration(user),
        "django_admin": user.is_staff and not is_player(user),
        "register": may_reach(user, "register:page"),
        "api_tokens": may_issue_api_token(user),
        "calendar": may_hold_calendar_link(user),
    }


# --- the capacity planner -----------------------------------------------------------------------


def may_plan_capacity(user) -> bool:
    """The capacity planner (its scenarios, runs and downloads): live administrators only. It
    reads the live office's history and headcount; an exercise's played administrator has no
    part in them, and an allied institute's reviewer is never the office's administrator."""
    return _signed_in(user) and not is_player(user) and is_administrator(user) and not is_institute_reviewer(user)


def scope_capacity_scenarios(qs, user):
    """Saved scenarios are the office's planning, shared by its live administrators."""
    return qs if may_plan_capacity(user) else qs.none()


# --- the benchmark catalog ---------------------------------------------------------------------


def may_view_benchmark_catalog(user) -> bool:
    """The live office (administrators and reviewers). Labs and partners never see it; an
    exercise player's clearance is simulated, and a simulated clearance never opens the real
    catalog, whose benchmarks and levels are live reference data."""
    return _signed_in(user) and not is_player(user) and is_office_staff(user)


def scope_benchmark_versions(qs, user, field: str = "classification"):
    """The versions (or their rows: `field` names the version's classification) this person is
    cleared for; others stay unnamed, their domain and existence being all that may be said."""
    if not may_view_benchmark_catalog(user):
        return qs.none()
    return qs.filter(**{f"{field}__lte": user.clearance})


def scope_benchmarks(qs, user):
    """A benchmark is known by name to those cleared for at least one of its versions."""
    from benchmarks.models import BenchmarkVersion

    if not may_view_benchmark_catalog(user):
        return qs.none()
    return qs.filter(pk__in=scope_benchmark_versions(BenchmarkVersion.objects.all(), user).values("benchmark_id"))


def may_manage_benchmarks(user) -> bool:
    """Live administrators add benchmarks and versions and set their policy levels."""
    return may_view_benchmark_catalog(user) and is_administrator(user)


def may_change_benchmark_version(user, version) -> bool:
    """...and only those they are cleared for: nobody changes a line they may not read."""
    return may_manage_benchmarks(user) and version.classification <= user.clearance


# --- capability trends ---------------------------------------------------------------------------
# Trends put one review's scores beside every other reviewed model's: the widest reading of
# results the portal offers, so it is the narrowest in who may read it. Closed by default:
#  - the live office only (as the catalog): developers never see another lab's scores, and a
#    lab's own scores already reach it through its determination, not through the office's
#    evaluations; trusted partners learn outcomes, never scores; an allied institute's reviewer
#    reads results only on the joint reviews its arrangement covers; an exercise's players have a
#    simulated clearance, which never opens the live catalog or its scores;
#  - only versions the reader is cleared for;
#  - only reviews that have ended with an outcome (cleared, flagged, past the window, released,
#    access removed): a running review's scores are its reviewers' until the office decides;
#  - a reviewer or lead never sees the scores of an organization they may not review (their own
#    or a declared conflict): they read its evaluations nowhere else either. Administrators see
#    every ended review within their clearance, as they see every result.
# The frontier is computed from these rows only, so it never reveals a score the reader may not see.


def scope_trend_results(qs, user):
    """The evaluation results a reader may place on the capability trends (rules above)."""
    from submissions.models import ANNOUNCED_STATES

    if not may_view_benchmark_catalog(user):
        return qs.none()
    qs = _world(qs, user, "submission__exercise").filter(
        version__classification__lte=user.clearance, submission__state__in=ANNOUNCED_STATES
    )
    if is_administrator(user):
        return qs
    return qs.exclude(submission__organization_id__in=conflicted_organization_ids(user))


def may_compare_with_trends(user, submission) -> bool:
    """May this submission be set against the trends for this reader (the "Compared with earlier
    models" section, and highlighting it on the trends page)? A catalog reader of its world who
    sees its results: the office's side of the review (administrators, its assigned people), or,
    once the review has ended, any office reader who may review its organization."""
    from submissions.models import ANNOUNCED_STATES

    if not may_view_benchmark_catalog(user) or not same_world(user, submission.exercise_id):
        return False
    if may_see_internal_review(user, submission):
        return True
    return submission.state in ANNOUNCED_STATES and not is_conflicted(user, submission.organization_id)


def scope_compared_results(qs, user, submission):
    """The compared submission's own results this reader may see: the review's (scope_results)
    and, once it has ended, the trends' (scope_trend_results); none unless it may be compared."""
    if not may_compare_with_trends(user, submission):
        return qs.none()
    qs = qs.filter(submission_id=submission.pk)
    return qs.filter(
        Q(pk__in=scope_results(qs, user).values("pk")) | Q(pk__in=scope_trend_results(qs, user).values("pk"))
    )


def scope_exercises_exists(user) -> bool:
    """Whether the person runs or evaluates any exercise (the menu asks on every page)."""
    from exercises.models import Exercise

    if is_player(user) or not user.is_authenticated:
        return False
    if is_administrator(user):
        return True
    if not holds_exercise_credentials(user):
        return False  # no further query for developers, reviewers and partners
    return scope_exercises(Exercise.objects.all(), user).exists()


# --- joint reviews with allied institutes ------------------------------------------------------
# An allied institute (Organization.Kind.ALLIED_INSTITUTE) is invited to one review under a
# data-sharing arrangement that caps the classification its staff may see. Its reviewers (the
# institute_reviewer role, which outweighs any office role they were given by mistake) see the
# reviews their institute accepted, while the arrangement is in force and they have no conflict
# with the developer; within them, the plan, the results and the findings at or below the
# stricter of the cap and their own clearance. They record results and findings; they never
# assign, propose, concur or determine, and see no dashboard, agreement, other lab or office trail.


def is_institute_reviewer(user) -> bool:
    return _signed_in(user) and has_role(user, Role.INSTITUTE_REVIEWER) and user.organization_id is not None


def _arrangement_in_force(prefix: str = "arrangement__") -> Q:
    """An arrangement is in force while active, from its start to its end day (both included),
    on the portal's clock (an exercise's simulated day in an exercise)."""
    from caisi_portal import clock

    today = clock.now().date()
    return Q(**{f"{prefix}status": "active", f"{prefix}starts_on__lte": today}) & (
        Q(**{f"{prefix}ends_on__isnull": True}) | Q(**{f"{prefix}ends_on__gte": today})
    )


def joint_invitations_in_force(user):
    """The accepted invitations of this person's institute, of their world, whose arrangement is
    in force, on submissions of developers they have no conflict with."""
    from joint.models import JointReviewInvitation

    if not is_institute_reviewer(user):
        return JointReviewInvitation.objects.none()
    qs = JointReviewInvitation.objects.filter(
        _arrangement_in_force(),
        status=JointReviewInvitation.Status.ACCEPTED,
        institute_id=user.organization_id,
        arrangement__institute_id=user.organization_id,
    ).exclude(submission__organization_id__in=conflicted_organization_ids(user))
    return _world(qs, user, "submission__exercise")


def joint_cap(user, submission) -> int | None:
    """The highest classification this institute reviewer may see on this submission: the
    stricter of their arrangement's cap and their clearance. None: they take no part in it.
    Asked once per submission and request."""
    if not is_institute_reviewer(user) or submission.pk is None or not same_world(user, submission.exercise_id):
        return None
    cached = getattr(user, "_caisi_joint_caps", None)
    if cached is None:
        cached = user._caisi_joint_caps = {}
    if submission.pk not in cached:
        cap = (
            joint_invitations_in_force(user)
            .filter(submission_id=submission.pk)
            .values_list("arrangement__classification_cap", flat=True)
            .first()
        )
        cached[submission.pk] = None if cap is None else min(cap, user.clearance)
    return cached[submission.pk]


def takes_part_jointly(user, submission) -> bool:
    """An allied institute's reviewer on a review their institute joined (see joint_cap)."""
    return joint_cap(user, submission) is not None


def may_see_joint_work(user, submission) -> bool:
    """The plan and results, and the findings within the cap (scope_findings): the office's
    reviewers of that review and the joint review's institute reviewers."""
    return may_see_internal_review(user, submission) or takes_part_jointly(user, submission)


def runs_the_review(user, submission) -> bool:
    """The office's side of one review: an administrator of its world, or its assigned lead."""
    return (
        _signed_in(user)
        and same_world(user, submission.exercise_id)
        and (is_administrator(user) or assignment_role(user, submission) == "lead")
    )


def may_invite_institute(user, submission) -> bool:
    """Invite an allied institute to a review while it is open: its administrators and its lead."""
    from submissions.states import OPEN_REVIEW_STATES

    return submission.state in OPEN_REVIEW_STATES and runs_the_review(user, submission)


def may_withdraw_invitation(user, invitation) -> bool:
    """Withdraw a pending or accepted invitation (the institute's access ends): the same people."""
    return invitation.status in ("pending", "accepted") and runs_the_review(user, invitation.submission)


def may_respond_to_invitation(user, invitation) -> bool:
    """Accept or decline: a reviewer of the invited institute, of the review's world, with no
    conflict with the developer, while the invitation waits and the review is open."""
    from submissions.states import OPEN_REVIEW_STATES

    submission = invitation.submission
    return (
        invitation.status == "pending"
        and submission.state in OPEN_REVIEW_STATES
        and is_institute_reviewer(user)
        and user.has_perm("joint.respond_jointreviewinvitation")
        and user.organization_id == invitation.institute_id
        and same_world(user, submission.exercise_id)
        and not is_conflicted(user, submission.organization_id)
    )


def scope_joint_invitations(qs, user):
    """Invitations: an administrator's of their world; an office reviewer's on the reviews they
    are assigned to; an institute reviewer's addressed to their institute, on developers they
    have no conflict with. Nobody else's."""
    from reviews.models import Assignment

    if not _signed_in(user):
        return qs.none()
    qs = _world(qs, user, "submission__exercise")
    if is_administrator(user):
        return qs
    if has_role(user, Role.REVIEWER, Role.LEAD_REVIEWER):
        return qs.filter(submission_id__in=Assignment.objects.filter(reviewer=user).values("submission_id"))
    if is_institute_reviewer(user):
        return qs.filter(institute_id=user.organization_id).exclude(
            submission__organization_id__in=conflicted_organization_ids(user)
        )
    return qs.none()


def may_manage_arrangements(user) -> bool:
    """Data-sharing arrangements (record, end): live administrators; each change is written to
    the office's (live) audit chain."""
    return _signed_in(user) and is_administrator(user) and not is_player(user)


def scope_arrangements(qs, user):
    """Arrangements: a live administrator's, all live ones; an institute reviewer's, their own
    institute's (to know its cap)."""
    if not _signed_in(user):
        return qs.none()
    qs = _world(qs, user, "institute__exercise")
    if may_manage_arrangements(user):
        return qs
    if is_institute_reviewer(user):
        return qs.filter(institute_id=user.organization_id)
    return qs.none()


def scope_allied_institutes(qs, user):
    """The institutes a person may invite to a review: the office's, of their world."""
    from submissions.models import Organization

    if not (_signed_in(user) and (is_administrator(user) or has_role(user, Role.LEAD_REVIEWER))):
        return qs.none()
    return _world(qs.filter(kind=Organization.Kind.ALLIED_INSTITUTE), user)
