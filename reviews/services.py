"""What changes the office's side of a review: assignments, results, findings, proposals."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NoReturn

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from accounts import rules
from accounts.models import Clearance
from accounts.roles import Role, has_role
from caisi_portal import clock, timefmt
from caisi_portal.errors import ApplicationError, NotPermitted, SubmissionChanged, TransitionRefused, ValidationFailed
from caisi_portal.ids import row_id
from caisi_portal.text import has_words, text_problems
from partners.services import event_record
from submissions import review_clock
from submissions.models import ModelSubmission, State
from submissions.services import MSG_PARTNER_SUMMARY, artifact_validate, audit_record
from submissions.states import DETERMINABLE_STATES, FINDING_STATES, OPEN_REVIEW_STATES

from .models import (
    Advisory,
    Assignment,
    AssignmentHandover,
    ConflictOfInterest,
    Determination,
    EvaluationPlanItem,
    EvaluationResult,
    Finding,
    ReviewerLeave,
)

MSG_CONFLICT = "{reviewer} has a conflict of interest with {organization} and cannot review this submission."
MSG_NO_SUCH_REVIEWER = "There is no reviewer by that name here."
MSG_NOT_A_REVIEWER = "{reviewer} is not a reviewer."
MSG_NOT_A_LEAD = "{reviewer} is not a lead reviewer and cannot lead a review."
MSG_ALREADY_ASSIGNED = "{reviewer} is already assigned to this submission."
MSG_BELOW_CLEARANCE = (
    "{reviewer} is cleared {clearance}, below the {needed} this review's evidence needs: they will not "
    "see what is classified above their clearance, nor concur on a determination that rests on it."
)
MSG_LEAD_TAKEN = "This submission already has a lead reviewer."


MSG_ACKNOWLEDGE_GAP = "Assign them only if you mean to: acknowledge the clearance gap."


def assignment_clearance_gap(*, submission, reviewer, needed: int | None = None) -> str | None:
    """What the assigner must know when the person assigned is cleared below what the review's
    evidence needs (None when they are not). Allowed once acknowledged: they can still record
    unclassified results, but the two-person rule needs someone else cleared for every finding.
    The page, the API and a handover all ask this one function. `needed`: the clearance the
    review needs, when the caller has it already."""
    needed = rules.clearance_needed(submission) if needed is None else needed
    if reviewer.clearance >= needed:
        return None
    return MSG_BELOW_CLEARANCE.format(
        reviewer=reviewer, clearance=Clearance(reviewer.clearance).label, needed=Clearance(needed).label
    )


def _refuse_unacknowledged_gap(*, submission, reviewer, acknowledged: bool) -> None:
    gap = assignment_clearance_gap(submission=submission, reviewer=reviewer)
    if gap and not acknowledged:
        message = f"{gap} {MSG_ACKNOWLEDGE_GAP}"
        raise ValidationFailed(message, details={"acknowledge_clearance_gap": [message]})


def _refuse_unassignable(*, submission, reviewer, role: str, actor) -> None:
    """Whether this person may take this role on this review at all (the same for a new
    assignment and for the one who takes over a handed-over one)."""
    if not (rules.same_world(reviewer, submission.exercise_id) and rules.same_world(actor, submission.exercise_id)):
        # Someone of another world (live or an exercise) is not named: they do not exist here.
        raise ValidationFailed(MSG_NO_SUCH_REVIEWER, details={"reviewer": [MSG_NO_SUCH_REVIEWER]})
    if rules.is_conflicted(reviewer, submission.organization_id):
        message = MSG_CONFLICT.format(reviewer=reviewer, organization=submission.organization)
        raise ValidationFailed(message, details={"reviewer": [message]})
    if not has_role(reviewer, Role.REVIEWER, Role.LEAD_REVIEWER):
        message = MSG_NOT_A_REVIEWER.format(reviewer=reviewer)
        raise ValidationFailed(message, details={"reviewer": [message]})
    if role == Assignment.Role.LEAD and not has_role(reviewer, Role.LEAD_REVIEWER):
        message = MSG_NOT_A_LEAD.format(reviewer=reviewer)
        raise ValidationFailed(message, details={"role": [message]})


def assignment_create(*, submission, reviewer, role: str, actor, acknowledge_clearance_gap: bool = False) -> Assignment:
    """Assign a reviewer. Someone cleared below what the review's evidence needs is refused
    unless the assigner acknowledges the gap (assignment_clearance_gap says what it means)."""
    if not rules.may_assign_reviewers(actor, submission):
        raise NotPermitted("You may not assign reviewers to this submission.")
    _refuse_unassignable(submission=submission, reviewer=reviewer, role=role, actor=actor)
    _refuse_unacknowledged_gap(submission=submission, reviewer=reviewer, acknowledged=acknowledge_clearance_gap)
    try:
        with transaction.atomic():
            assignment = Assignment.objects.create(
                submission=submission, reviewer=reviewer, role=role, assigned_by=actor, assigned_at=clock.now()
            )
            if role == Assignment.Role.LEAD:
                review_clock.on_lead_assigned(submission, clock.now())
            audit_record(
                submission=submission,
                actor=actor,
                action="reviewer_assigned",
                comment=f"{reviewer} as {assignment.get_role_display().lower()}",
                internal=True,
            )
            event_record(
                submission=submission,
                type="review.assigned",
                extra={"next_action": _assigned_next_action(submission, assignment)},
                recipients=[reviewer],
            )
    except IntegrityError:
        # Unique constraints decide races; say which one was hit.
        _refuse_taken(submission=submission, reviewer=reviewer)
    return assignment


def _refuse_taken(*, submission, reviewer) -> NoReturn:
    """After a unique constraint refused an assignment: which one, in words."""
    if Assignment.objects.filter(submission=submission, reviewer=reviewer).exists():
        message = MSG_ALREADY_ASSIGNED.format(reviewer=reviewer)
        raise ValidationFailed(message, details={"reviewer": [message]}) from None
    raise ValidationFailed(MSG_LEAD_TAKEN, details={"role": [MSG_LEAD_TAKEN]}) from None


# --- ending an assignment, or handing it over ------------------------------------------------

MSG_END_WHO = "Only those who may assign reviewers to this review may end or hand over an assignment."
MSG_HANDOVER_NOTE = (
    "Write a handover note: what the person taking over needs to know (with no one taking over, why the "
    "assignment ends). It is kept in the review's timeline."
)
MSG_LEAD_NEEDS_SUCCESSOR = (
    "{reviewer} leads this review: hand the lead to another lead reviewer. A review needs its lead to plan the "
    "evaluation, propose the determination and issue it, so the lead is never removed without a successor."
)
MSG_ENDED_ALREADY = "This assignment has already ended: the submission page shows who reviews it now."
MSG_CONCURRENCE_WITHDRAWN = (
    "{reviewer}'s concurrence with the proposal to {what} is withdrawn with their assignment: a reviewer still on "
    "the review must concur before it is issued (two-person rule)."
)


def assignment_end(
    *, assignment, actor, note: str, hand_to=None, acknowledge_clearance_gap: bool = False
) -> AssignmentHandover:
    """End a reviewer's assignment, optionally handing their role to another reviewer, with a
    handover note the one taking over reads.

    The lead is only ever handed over (a review always keeps its lead once it has one). The
    person taking over passes the same checks as anyone assigned (world, conflicts, role, the
    clearance gap acknowledged). A concurrence the outgoing reviewer gave to a proposal not yet
    issued is withdrawn: the second person of the two-person rule must be on the review when it
    is issued. Audited, and both people are told through the outbox.
    """
    submission = assignment.submission
    if not rules.may_end_assignments(actor, submission):
        raise NotPermitted(MSG_END_WHO)
    note = note.strip() if isinstance(note, str) else ""
    if not has_words(note):
        raise ValidationFailed(MSG_HANDOVER_NOTE, details={"note": [MSG_HANDOVER_NOTE]})
    _refuse_control_characters(multi_line={"note": note}, limits={"note": 5000})
    outgoing, role = assignment.reviewer, assignment.role
    if hand_to is None and role == Assignment.Role.LEAD:
        message = MSG_LEAD_NEEDS_SUCCESSOR.format(reviewer=outgoing)
        raise ValidationFailed(message, details={"hand_to": [message]})
    if hand_to is not None:
        try:
            _refuse_unassignable(submission=submission, reviewer=hand_to, role=role, actor=actor)
        except ValidationFailed as refused:
            # The person refused is the one named to take over: the refusal is about that field.
            raise ValidationFailed(refused.message, details={"hand_to": [refused.message]}) from None
        if hand_to.pk == outgoing.pk or submission.assignments.filter(reviewer=hand_to).exists():
            message = MSG_ALREADY_ASSIGNED.format(reviewer=hand_to)
            raise ValidationFailed(message, details={"hand_to": [message]})
        _refuse_unacknowledged_gap(submission=submission, reviewer=hand_to, acknowledged=acknowledge_clearance_gap)
    now = clock.now()
    with transaction.atomic():
        # The submission's row first, as every transition takes it: a review determined meanwhile
        # keeps the people who determined it.
        state = ModelSubmission.objects.select_for_update().filter(pk=submission.pk).values_list("state", flat=True)
        if state.first() not in OPEN_REVIEW_STATES:
            raise SubmissionChanged(state=state.first() or submission.state)
        if not Assignment.objects.select_for_update().filter(pk=assignment.pk).exists():
            raise ValidationFailed(MSG_ENDED_ALREADY)
        Assignment.objects.filter(pk=assignment.pk).delete()
        incoming = None
        if hand_to is not None:
            try:
                with transaction.atomic():
                    incoming = Assignment.objects.create(
                        submission=submission, reviewer=hand_to, role=role, assigned_by=actor, assigned_at=now
                    )
            except IntegrityError:
                _refuse_taken(submission=submission, reviewer=hand_to)
        handover = AssignmentHandover.objects.create(
            submission=submission,
            role=role,
            reviewer=outgoing,
            handed_to=hand_to,
            assignment=incoming,
            note=note,
            ended_by=actor,
            ended_at=now,
        )
        withdrawn = _concurrence_withdraw(submission, outgoing)
        role_words = assignment.get_role_display().lower()
        said = [
            f"{outgoing} ({role_words}) handed over to {hand_to}."
            if hand_to
            else f"{outgoing} ({role_words}) removed.",
            f"Handover note: {note}",
        ]
        if withdrawn is not None:
            said.append(MSG_CONCURRENCE_WITHDRAWN.format(reviewer=outgoing, what=proposal_verb(withdrawn)))
        audit_record(
            submission=submission,
            actor=actor,
            action="reviewer_handed_over" if hand_to else "reviewer_removed",
            comment=" ".join(said),
            internal=True,
        )
        successor = f", handing it to {hand_to}" if hand_to else ""
        event_record(
            submission=submission,
            type="review.unassigned",
            extra={
                "next_action": f"{actor} ended your assignment as {role_words} on this review{successor}. Nothing "
                f"more is asked of you here: pass anything you hold for it to {hand_to or 'the lead reviewer'}."
            },
            recipients=[outgoing],
        )
        if incoming is not None:
            event_record(
                submission=submission,
                type="review.assigned",
                extra={
                    "next_action": f"{_assigned_next_action(submission, incoming)} You take over from {outgoing}: "
                    "read the handover note first.",
                    "handover_note": note,
                },
                recipients=[hand_to],
            )
        if withdrawn is not None:
            _tell_possible_concurrers(submission, withdrawn)
    return handover


def proposal_verb(proposal) -> str:
    return "flag" if proposal.outcome == Determination.Outcome.FLAGGED else "clear"


def _concurrence_withdraw(submission, reviewer):
    """The proposal not yet issued that `reviewer` concurred with, its concurrence withdrawn (None
    when there is none): whoever is no longer on the review no longer answers for its issue."""
    proposal = Determination.objects.filter(
        submission=submission, issued_at__isnull=True, concurred_by=reviewer
    ).first()
    if proposal is None:
        return None
    Determination.objects.filter(pk=proposal.pk, issued_at__isnull=True).update(
        concurred_by=None, concurred_at=None, concurred_digest=""
    )
    proposal.refresh_from_db()
    return proposal


MSG_NOT_A_DECLARING_REVIEWER = "Only the office's reviewers declare their expertise."
MSG_SUGGESTIONS_CHANGED = "The suggestions have changed since the page was shown: look at them again."
MSG_NO_SUGGESTION = (
    "No one can be suggested: every reviewer is already assigned, conflicted, not cleared or on leave during the "
    "review window."
)


def _assign_suggestions(*, submission, suggestions, actor) -> list[Assignment]:
    """Assign the suggested lead, then the suggested reviewers, through assignment_create
    (which checks permission and conflicts again), all or nothing."""
    made = []
    with transaction.atomic():
        if suggestions.lead is not None:
            made.append(
                assignment_create(
                    submission=submission,
                    reviewer=suggestions.lead.reviewer,
                    role=Assignment.Role.LEAD,
                    actor=actor,
                )
            )
        for candidate in suggestions.reviewers:
            made.append(
                assignment_create(
                    submission=submission, reviewer=candidate.reviewer, role=Assignment.Role.MEMBER, actor=actor
                )
            )
    return made


def assignment_suggestions_accept(
    *, submission, actor, expected_state: str, suggested_ids: list[int]
) -> list[Assignment]:
    """The one click: assign the people the page suggested, if they are still the suggestion.

    The page posts the state and the people it showed. Inside the transaction the submission
    row is locked and both are checked afresh: a submission that moved, or suggestions that
    changed (someone assigned meanwhile, a new conflict, a SECRET finding), are refused with
    the reason rather than assigning people nobody looked at.
    """
    from .selectors import assignment_suggestions

    if not rules.may_assign_reviewers(actor, submission):
        raise NotPermitted("You may not assign reviewers to this submission.")
    with transaction.atomic():
        current = ModelSubmission.objects.select_for_update().filter(pk=submission.pk).values_list("state", flat=True)
        state = current.first()
        if state != expected_state or state != submission.state:
            raise SubmissionChanged(state=state or submission.state)
        suggestions = assignment_suggestions(submission, submission.exercise_id)
        if not suggestions.suggested:
            raise ValidationFailed(MSG_NO_SUGGESTION)
        if [c.reviewer.pk for c in suggestions.suggested] != list(suggested_ids):
            raise ValidationFailed(MSG_SUGGESTIONS_CHANGED)
        return _assign_suggestions(submission=submission, suggestions=suggestions, actor=actor)


def assignment_on_accept(*, submission, actor) -> list[Assignment]:
    """The office's policy (AssignmentPolicy): with assignment on accept switched on, accepting
    a submission assigns its top suggestions at once. Runs inside the accept's transaction;
    suggestions never hold a conflicted or insufficiently cleared person, and
    assignment_create refuses a conflict again."""
    from .models import AssignmentPolicy
    from .selectors import assignment_suggestions

    policy = AssignmentPolicy.current()
    if not policy.auto_assign_on_accept or not rules.may_assign_reviewers(actor, submission):
        return []
    suggestions = assignment_suggestions(submission, submission.exercise_id, reviewers=policy.reviewers_on_accept)
    try:
        # A savepoint: if a suggested person is refused after all, the accept still stands
        # and the office assigns by hand, as without the policy.
        return _assign_suggestions(submission=submission, suggestions=suggestions, actor=actor)
    except ApplicationError:
        return []


def reviewer_expertise_declare(*, reviewer, domains) -> None:
    """A reviewer's own declaration of the domains they know (their profile page); the change
    is written to the audit chain like other configuration."""
    from .models import ReviewerExpertise

    if not rules.may_declare_expertise(reviewer):
        raise NotPermitted(MSG_NOT_A_DECLARING_REVIEWER)
    wanted = {d.pk: d for d in domains}
    with transaction.atomic():
        held = set(ReviewerExpertise.objects.filter(reviewer=reviewer).values_list("domain_id", flat=True))
        if held == set(wanted):
            return
        ReviewerExpertise.objects.filter(reviewer=reviewer).exclude(domain_id__in=list(wanted)).delete()
        ReviewerExpertise.objects.bulk_create(
            [ReviewerExpertise(reviewer=reviewer, domain=d) for pk, d in wanted.items() if pk not in held]
        )
        listed = ", ".join(sorted(d.name for d in wanted.values())) or "none"
        audit_record(
            submission=None,
            actor=reviewer,
            action="configuration_changed",
            comment=f"Declared expertise of {reviewer}: {listed}",
            internal=True,
        )


# --- leave: who is away when --------------------------------------------------------------------

MSG_NOT_ON_LEAVE_LIST = "Only the office's reviewers record their leave here."
MSG_LEAVE_ORDER = "The last day of leave cannot be before the first."
MSG_LEAVE_PAST = "That leave has already ended: record leave that is still to come or under way."
MSG_LEAVE_TOO_LONG = "Record at most a year of leave at once."
MSG_LEAVE_OVERLAPS = "You already have leave recorded for {words}: change that period instead of adding one over it."
MSG_NO_SUCH_LEAVE = "There is no such leave of yours."
LEAVE_LONGEST = 366  # days


def reviewer_leave_record(*, reviewer, starts_on, ends_on, note: str = "") -> ReviewerLeave:
    """A reviewer's own leave (both days included): suggestions pass them over for reviews whose
    window it falls in. Audited like their declared expertise."""
    if not rules.may_declare_leave(reviewer):
        raise NotPermitted(MSG_NOT_ON_LEAVE_LIST)
    note = note.strip() if isinstance(note, str) else ""
    _refuse_control_characters(single_line={"note": note}, limits={"note": 200})
    if ends_on < starts_on:
        raise ValidationFailed(MSG_LEAVE_ORDER, details={"ends_on": [MSG_LEAVE_ORDER]})
    if ends_on < clock.now().date():
        raise ValidationFailed(MSG_LEAVE_PAST, details={"ends_on": [MSG_LEAVE_PAST]})
    if (ends_on - starts_on).days >= LEAVE_LONGEST:
        raise ValidationFailed(MSG_LEAVE_TOO_LONG, details={"ends_on": [MSG_LEAVE_TOO_LONG]})
    with transaction.atomic():
        # The person's row locked: two periods saved at once cannot both miss each other.
        get_user_model().objects.select_for_update().filter(pk=reviewer.pk).exists()
        overlap = ReviewerLeave.objects.filter(
            reviewer=reviewer, starts_on__lte=ends_on, ends_on__gte=starts_on
        ).first()
        if overlap is not None:
            message = MSG_LEAVE_OVERLAPS.format(words=overlap.words)
            raise ValidationFailed(message, details={"starts_on": [message]})
        leave = ReviewerLeave.objects.create(
            reviewer=reviewer, starts_on=starts_on, ends_on=ends_on, note=note, recorded_at=clock.now()
        )
        audit_record(
            submission=None,
            actor=reviewer,
            action="configuration_added",
            comment=f"Leave of {reviewer}: {_leave_days(leave)}",
            internal=True,
        )
    return leave


def _leave_days(leave) -> str:
    return f"{timefmt.day(leave.starts_on)} to {timefmt.day(leave.ends_on)}"


def reviewer_leave_cancel(*, reviewer, leave_id) -> None:
    """A reviewer takes back leave they recorded (their own only)."""
    if not rules.may_declare_leave(reviewer):
        raise NotPermitted(MSG_NOT_ON_LEAVE_LIST)
    with transaction.atomic():
        leave = ReviewerLeave.objects.select_for_update().filter(reviewer=reviewer, pk=row_id(leave_id)).first()
        if leave is None:
            raise ValidationFailed(MSG_NO_SUCH_LEAVE)
        leave.delete()
        audit_record(
            submission=None,
            actor=reviewer,
            action="configuration_removed",
            comment=f"Leave of {reviewer} taken back: {_leave_days(leave)}",
            internal=True,
        )


MSG_ABOVE_ARRANGEMENT = (
    "You cannot record a finding above what your institute's data-sharing arrangement with the office allows."
)


def _institute_of(actor) -> int | None:
    """An allied institute's reviewer records for their institute (None: the office)."""
    return actor.organization_id if rules.is_institute_reviewer(actor) else None


def determination_note_institutes(submission) -> None:
    """At issue: the record lists the allied institutes whose staff recorded results or
    findings (a joint review), in the determination's own transaction."""
    from joint.services import contributing_institutes

    determination = Determination.objects.filter(submission=submission).first()
    if determination is not None:
        determination.contributing_institutes.set(contributing_institutes(submission))


def _refuse_control_characters(**fields) -> None:
    problems = text_problems(**fields)
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], details=problems)


def _lock_under_evaluation(submission, states=DETERMINABLE_STATES) -> None:
    """Lock the submission's row and read its state afresh, inside the caller's transaction.

    The permission checks above read the object in memory. A clear or flag that committed
    meanwhile would otherwise be overwritten (a proposal replacing an issued clearance); with
    the row lock, the transition and this work run one after the other, and this one sees
    the state the other left.
    """
    state = ModelSubmission.objects.select_for_update().filter(pk=submission.pk).values_list("state", flat=True)
    current = state.first()
    if current not in states:
        raise SubmissionChanged(state=current or submission.state)


def conflict_declare(*, reviewer, organization, kind=ConflictOfInterest.Kind.DECLARED, note="") -> ConflictOfInterest:
    conflict, _ = ConflictOfInterest.objects.get_or_create(
        reviewer=reviewer, organization=organization, defaults={"kind": kind, "note": note, "declared_at": clock.now()}
    )
    return conflict


def _decimal(value, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        message = "Enter a number."
        raise ValidationFailed(message, details={field: [message]}) from None
    if not number.is_finite() or abs(number) >= Decimal("1000000"):
        message = "Enter a number between -999999 and 999999."
        raise ValidationFailed(message, details={field: [message]})
    return number


MSG_NOT_PLANNED = "That benchmark version is not in this submission's evaluation plan."
MSG_NO_LEVELS = (
    "This benchmark version has no policy levels set, so a score on it cannot be judged: an administrator "
    "sets its levels in the benchmark catalog first."
)
MSG_THRESHOLD_NOT_TYPED = (
    "Thresholds are not typed with a result: the outcome is computed from the benchmark version's policy "
    "levels, which administrators set in the catalog."
)
MSG_COMPUTED_NOT_TYPED = (
    "The {field} is not typed with a result: it is computed from the benchmark version's policy levels, "
    "which administrators set in the catalog."
)
# What a client may send with a score but the portal computes: refused with these, never ignored.
COMPUTED_RESULT_FIELDS = {
    "threshold": MSG_THRESHOLD_NOT_TYPED,
    "outcome": MSG_COMPUTED_NOT_TYPED.format(field="outcome"),
    "level": MSG_COMPUTED_NOT_TYPED.format(field="level reached"),
}


def planned_version(submission, version_id, actor):
    """The planned benchmark version a result is recorded against, as the recorder may name it.
    A version outside the plan, or above the recorder's clearance, is refused in the same words:
    the refusal must not confirm that a classified benchmark is planned."""
    from benchmarks.models import BenchmarkVersion

    version = (
        BenchmarkVersion.objects.select_related("benchmark__domain")
        .filter(pk=version_id if str(version_id).isdigit() else None)
        .filter(
            pk__in=EvaluationPlanItem.versions.through.objects.filter(evaluationplanitem__submission=submission).values(
                "benchmarkversion_id"
            )
        )
        .first()
    )
    if version is None or not rules.may_record_against(actor, submission, version):
        raise ValidationFailed(MSG_NOT_PLANNED, details={"version": [MSG_NOT_PLANNED]})
    return version


def evaluation_result_record(*, submission, version, actor, score, inconclusive=False, summary="") -> EvaluationResult:
    """Record (or replace) the score for one planned benchmark version. The outcome is the
    highest policy level the score reaches by the version's levels as they stand now, which the
    result keeps; nobody types a threshold."""
    from benchmarks.models import LevelSetting, in_level_order

    if not rules.may_record_evaluation(actor, submission):
        raise NotPermitted(
            "Only reviewers assigned to this submission (or of an allied institute it joined) can record results "
            "during evaluation."
        )
    version = planned_version(submission, getattr(version, "pk", version), actor)
    _refuse_control_characters(multi_line={"summary": summary})
    score = _decimal(score, "score")
    with transaction.atomic():
        _lock_under_evaluation(submission)
        # The levels read under a share lock: an administrator's change commits before or after
        # this judgement, never halfway through it.
        thresholds = in_level_order(LevelSetting.objects.select_for_update().filter(version=version))
        if not thresholds:
            raise ValidationFailed(MSG_NO_LEVELS, details={"version": [MSG_NO_LEVELS]})
        level = "" if inconclusive else (version.reached(score, thresholds) or "")
        if inconclusive:
            outcome = EvaluationResult.Outcome.INCONCLUSIVE
        elif level:
            outcome = EvaluationResult.Outcome.THRESHOLD_EXCEEDED
        else:
            outcome = EvaluationResult.Outcome.BELOW_THRESHOLD
        worrying = outcome != EvaluationResult.Outcome.BELOW_THRESHOLD
        result, created = EvaluationResult.objects.update_or_create(
            submission=submission,
            version=version,
            defaults={
                "domain_id": version.benchmark.domain_id,
                "score": score,
                "levels_applied": {k: str(v) for k, v in thresholds.items()},
                "level": level,
                "outcome": outcome,
                "summary": summary,
                "recorded_by": actor,
                "recorded_at": clock.now(),
                "institute_id": _institute_of(actor),
            },
        )
        if worrying and result.concern_raised_at is None:
            result.concern_raised_at = clock.now()
            result.save(update_fields=["concern_raised_at"])
        audit_record(
            submission=submission,
            actor=actor,
            action="result_recorded" if created else "result_revised",
            comment=result_audit_words(result),
            internal=True,
        )
    return result


def result_audit_words(result) -> str:
    """The trail's words for a result. The trail is read by everyone on the review, whatever
    their clearance: a classified benchmark's result is named by its domain alone."""
    from accounts.models import Clearance

    if result.version.classification > Clearance.UNCLASSIFIED:
        return f"{result.domain}: a result on a classified benchmark"
    return f"{result.domain}, {result.version}: {result.verdict.lower()}"


def evaluation_plan_versions_set(*, submission, actor, domain, versions) -> EvaluationPlanItem:
    """The lead chooses which benchmark versions measure a planned domain (retired versions and
    legacy ones never; at least one). A version that already has a result stays planned."""
    from benchmarks.models import BenchmarkVersion

    if not rules.may_plan_evaluation(actor, submission):
        raise NotPermitted("Only the lead reviewer of this submission changes its evaluation plan, while evaluating.")
    item = submission.plan_items.filter(domain=domain).first()
    if item is None:
        message = f"{domain} is not in this submission's evaluation plan."
        raise ValidationFailed(message, details={"domain": [message]})
    # Ids only: a value no row could have (not ASCII digits, beyond 64 bits) counts as unknown.
    wanted = {pk for pk in map(row_id, versions) if pk is not None}
    if len(wanted) != len(list(versions)) or not wanted:
        message = "Choose one or more benchmark versions of this domain (each once)."
        raise ValidationFailed(message, details={"versions": [message]})
    allowed = plannable_versions(submission, actor).filter(benchmark__domain=domain, pk__in=wanted)
    if allowed.count() != len(wanted):
        message = "Choose among this domain's benchmark versions listed (current or earlier, not retired)."
        raise ValidationFailed(message, details={"versions": [message]})
    with transaction.atomic():
        _lock_under_evaluation(submission)
        measured = set(submission.results.filter(domain=domain).values_list("version_id", flat=True))
        # A version the lead may not read stays as it is: nobody unplans what they cannot see.
        unseen = set(item.versions.exclude(pk__in=plannable_versions(submission, actor)).values_list("pk", flat=True))
        item.versions.set(BenchmarkVersion.objects.filter(pk__in=wanted | measured | unseen))
        audit_record(
            submission=submission,
            actor=actor,
            action="plan_changed",
            comment=f"{domain}: {item.versions.count()} benchmark version(s) planned",
            internal=True,
        )
    return item


def plannable_versions(submission, actor):
    """Versions a plan may take: not retired, not legacy, within the planner's clearance; in an
    exercise, unclassified only (a player's clearance is simulated, the catalog is real)."""
    from accounts.models import Clearance
    from benchmarks.models import BenchmarkVersion

    qs = BenchmarkVersion.objects.filter(retired_at__isnull=True, is_legacy=False)
    if submission.exercise_id is not None:
        return qs.filter(classification=Clearance.UNCLASSIFIED)
    return qs.filter(classification__lte=rules.evidence_clearance(actor, submission))


def default_plan_versions(submission, domains) -> dict:
    """{domain id: [versions]}: each domain's current versions, the plan's default. An exercise
    plans unclassified ones only."""
    from accounts.models import Clearance
    from benchmarks.models import BenchmarkVersion

    qs = BenchmarkVersion.objects.filter(is_current=True, retired_at__isnull=True, is_legacy=False).filter(
        benchmark__domain__in=domains
    )
    if submission.exercise_id is not None:
        qs = qs.filter(classification=Clearance.UNCLASSIFIED)
    out: dict = {}
    for version in qs.select_related("benchmark"):
        out.setdefault(version.benchmark.domain_id, []).append(version)
    return out


def finding_record(
    *,
    submission,
    actor,
    domain,
    severity,
    classification,
    title,
    description,
    recommendation="",
    evidence=None,
) -> Finding:
    if not rules.may_record_finding(actor, submission):
        raise NotPermitted(
            "Only reviewers assigned to this submission can record findings, during evaluation, after the "
            "review window or after release."
        )
    _refuse_control_characters(
        single_line={"title": title},
        multi_line={"description": description, "recommendation": recommendation},
        limits={"title": 200, "description": 50000},
    )
    if int(classification) > actor.clearance:
        message = "You cannot record a finding above your own clearance."
        raise ValidationFailed(message, details={"classification": [message]})
    cap = rules.joint_cap(actor, submission)
    if cap is not None and int(classification) > cap:
        message = MSG_ABOVE_ARRANGEMENT
        raise ValidationFailed(message, details={"classification": [message]})
    finding = Finding(
        submission=submission,
        domain=domain,
        severity=severity,
        classification=classification,
        title=title.strip(),
        description=description.strip(),
        recommendation=recommendation.strip(),
        recorded_by=actor,
        recorded_at=clock.now(),
        institute_id=_institute_of(actor),
    )
    if not finding.title or not finding.description:
        message = "A finding needs a title and a description."
        raise ValidationFailed(message, details={"title": [message]})
    with transaction.atomic():
        _lock_under_evaluation(submission, FINDING_STATES)
        if evidence is not None:
            name, _ = artifact_validate(evidence)
            finding.evidence_name = name
            finding.evidence.save(name, evidence, save=False)
        finding.save()
        # The timeline names only the severity: the finding itself stays behind clearance.
        audit_record(
            submission=submission,
            actor=actor,
            action="finding_recorded",
            comment=f"{finding.get_severity_display()} finding in {domain}",
            internal=True,
        )
    return finding


# --- findings carried forward to a new version ---------------------------------------------

MSG_RESOLVE_WHO = (
    "Only the lead reviewer of this review, cleared for the finding, resolves a finding carried from the "
    "earlier version, while the review can still be determined."
)
MSG_RESOLVE_REASON = (
    "Say why the finding no longer holds for this version: the reason is kept with the finding and in the record."
)
MSG_RESOLVED_ALREADY = "This finding was resolved already."
MSG_NOT_CARRIED = (
    "Only a finding carried from the earlier version is resolved here; this one was recorded on this review."
)


def findings_carry_forward(*, submission, actor) -> list[Finding]:
    """The open findings of the version this submission supersedes, carried to it when its
    re-review is accepted: the same finding (domain, severity, classification, texts, evidence,
    author and institute), marked as carried and linked to the one it came from. Open means not
    resolved: a finding resolved on the earlier version stays behind. Runs inside the accept's
    transaction; carrying twice is refused by the database (`finding_carried_once`)."""
    if submission.supersedes_id is None:
        return []
    origins = list(
        Finding.objects.filter(submission_id=submission.supersedes_id, resolved_at__isnull=True)
        .select_related("domain")
        .order_by("recorded_at", "pk")
    )
    if not origins:
        return []
    now = clock.now()
    carried = Finding.objects.bulk_create(
        [
            Finding(
                submission=submission,
                domain=f.domain,
                severity=f.severity,
                classification=f.classification,
                title=f.title,
                description=f.description,
                recommendation=f.recommendation,
                # The same stored file: evidence is read through the carried finding's own scope.
                evidence=f.evidence.name,
                evidence_name=f.evidence_name,
                recorded_by_id=f.recorded_by_id,
                recorded_at=now,
                institute_id=f.institute_id,
                carried_from=f,
            )
            for f in origins
        ]
    )
    # Named by severity and domain only: a finding's title may be above a reader's clearance.
    kinds = "; ".join(f"{f.get_severity_display().lower()} in {f.domain}" for f in origins)
    audit_record(
        submission=submission,
        actor=actor,
        action="findings_carried",
        comment=f"{len(origins)} open finding{'s' if len(origins) != 1 else ''} carried from "
        f"{submission.supersedes}: {kinds}.",
        internal=True,
    )
    return carried


def finding_resolve(*, finding: Finding, actor, reason: str) -> Finding:
    """The re-review's lead resolves a carried finding, with the reason it no longer holds.

    The reason is kept with the finding (behind its classification); the trail records the
    resolution, and the reason itself only for an unclassified finding."""
    submission = finding.submission
    if finding.carried_from_id is None:
        raise ValidationFailed(MSG_NOT_CARRIED)
    if finding.resolved_at is not None:
        raise TransitionRefused(
            MSG_RESOLVED_ALREADY, state=submission.state, details={"reasons": [MSG_RESOLVED_ALREADY]}
        )
    if not rules.may_resolve_finding(actor, finding):
        raise NotPermitted(MSG_RESOLVE_WHO)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not has_words(reason):
        raise ValidationFailed(MSG_RESOLVE_REASON, details={"reason": [MSG_RESOLVE_REASON]})
    _refuse_control_characters(multi_line={"reason": reason}, limits={"reason": 5000})
    with transaction.atomic():
        _lock_under_evaluation(submission)
        resolved = Finding.objects.filter(pk=finding.pk, resolved_at__isnull=True).update(
            resolved_at=clock.now(), resolved_by=actor, resolution=reason
        )
        if resolved != 1:  # someone else resolved it meanwhile
            raise TransitionRefused(
                MSG_RESOLVED_ALREADY, state=submission.state, details={"reasons": [MSG_RESOLVED_ALREADY]}
            )
        earlier = finding.carried_from.submission
        what = f"{finding.get_severity_display()} finding in {finding.domain}, carried from {earlier}"
        said = (
            f": {reason}"
            if finding.classification == Clearance.UNCLASSIFIED
            else " (the reason is kept with the finding)"
        )
        audit_record(
            submission=submission,
            actor=actor,
            action="finding_resolved",
            comment=f"{what}, resolved{said}",
            internal=True,
        )
    finding.refresh_from_db()
    return finding


MSG_PROPOSAL_CHANGED = "The proposal changed after you opened the page: read it again before you concur."


def _assigned_next_action(submission, assignment) -> str:
    role = assignment.get_role_display().lower()
    if assignment.role == Assignment.Role.LEAD:
        what = "lead the review and propose its determination"
    else:
        what = "record evaluation results and findings for its planned domains"
    return f"You are the {role}: {what}. Open the submission to see the plan and the review deadline."


def _tell_possible_concurrers(submission, proposal) -> None:
    """The second reviewers who may concur (the policy's own rule) are told it is their turn."""
    concurrers = [
        a.reviewer for a in submission.assignments.select_related("reviewer") if rules.may_concur(a.reviewer, proposal)
    ]
    if not concurrers:
        return  # the page tells the lead to assign a second reviewer cleared for every finding
    what = "flag" if proposal.outcome == Determination.Outcome.FLAGGED else "clearance"
    event_record(
        submission=submission,
        type="review.concurrence_requested",
        extra={
            "next_action": f"{proposal.decided_by} proposed a {what}. Read it on the submission page and concur "
            "if you agree (two-person rule): it cannot be issued until a second reviewer does."
        },
        recipients=concurrers,
    )


def _propose(*, submission, actor, outcome, rationale, partner_summary, release_conditions, justifications=None):
    """Write (or rewrite) the proposal. A rewritten proposal voids any earlier concurrence."""
    if not rules.may_propose_determination(actor, submission):
        raise NotPermitted("Only the lead reviewer can propose a determination during evaluation.")
    texts = {"rationale": rationale, "partner_summary": partner_summary, "release_conditions": release_conditions}
    _refuse_control_characters(multi_line={**texts, **{f"justify_{k}": v for k, v in (justifications or {}).items()}})
    word = "flagging" if outcome == Determination.Outcome.FLAGGED else "clearing"
    if not has_words(rationale):
        message = f"Give the rationale for {word}."
        raise ValidationFailed(message, details={"rationale": [message]})
    if not has_words(partner_summary):
        raise ValidationFailed(MSG_PARTNER_SUMMARY, details={"partner_summary": [MSG_PARTNER_SUMMARY]})
    with transaction.atomic():
        _lock_under_evaluation(submission)
        proposal, _ = Determination.objects.update_or_create(
            submission=submission,
            defaults={
                "outcome": outcome,
                "rationale": rationale.strip(),
                "partner_summary": partner_summary.strip(),
                "release_conditions": release_conditions.strip(),
                "justifications": {k: v.strip() for k, v in (justifications or {}).items()},
                "decided_by": actor,
                "proposed_at": clock.now(),
                "concurred_by": None,
                "concurred_at": None,
                "concurred_digest": "",
                "issued_at": None,
            },
        )
        audit_record(
            submission=submission,
            actor=actor,
            action="flag_proposed" if outcome == Determination.Outcome.FLAGGED else "clearance_proposed",
            internal=True,
        )
        _tell_possible_concurrers(submission, proposal)
    return proposal


def determination_propose_flag(*, submission, actor, rationale, partner_summary="", release_conditions=""):
    """A lead's proposal to flag, which a second reviewer must concur with before issue."""
    return _propose(
        submission=submission,
        actor=actor,
        outcome=Determination.Outcome.FLAGGED,
        rationale=rationale,
        partner_summary=partner_summary,
        release_conditions=release_conditions,
    )


def determination_propose_clear(
    *, submission, actor, rationale, partner_summary="", release_conditions="", justifications=None
):
    """A lead's proposal to clear against the evidence: one written justification per concern
    (reviews.evidence), then a second reviewer's concurrence, like a flag."""
    from . import evidence

    justifications = {k: v for k, v in (justifications or {}).items() if isinstance(v, str)}
    missing = evidence.unjustified(submission, justifications)
    if missing:
        message = "Justify clearing despite each of these: " + "; ".join(c.label for c in missing) + "."
        raise ValidationFailed(
            message, details={f"justify_{c.key}": ["Write why clearing is right despite this."] for c in missing}
        )
    known = {c.key for c in evidence.concerns(submission)}
    return _propose(
        submission=submission,
        actor=actor,
        outcome=Determination.Outcome.CLEARED,
        rationale=rationale,
        partner_summary=partner_summary,
        release_conditions=release_conditions,
        justifications={k: v for k, v in justifications.items() if k in known},
    )


def determination_concur(*, determination: Determination, actor, seen_digest: str | None = None) -> Determination:
    """A second reviewer agrees to exactly the proposal they read (`seen_digest`, when given)."""
    refusal = rules.concurrence_refusal(actor, determination)
    if refusal:
        raise NotPermitted(refusal)
    with transaction.atomic():
        _lock_under_evaluation(determination.submission)
        current = Determination.objects.select_for_update().get(pk=determination.pk)
        digest = current.digest()
        if seen_digest is not None and seen_digest != digest:
            raise ValidationFailed(MSG_PROPOSAL_CHANGED)
        # Conditional update: two reviewers concurring at once, only one is recorded.
        updated = Determination.objects.filter(
            pk=determination.pk, concurred_by__isnull=True, issued_at__isnull=True
        ).update(concurred_by=actor, concurred_at=clock.now(), concurred_digest=digest)
        if updated != 1:
            raise ValidationFailed("Someone has already concurred with this proposal.")
        action = "flag_concurred" if current.outcome == Determination.Outcome.FLAGGED else "clearance_concurred"
        audit_record(submission=determination.submission, actor=actor, action=action, internal=True)
    determination.refresh_from_db()
    return determination


# --- advisories: a finding after release ---------------------------------------------------

MSG_ADVISORY_TEXT = "Write what the developer and trusted partners are told: an advisory must never be empty."
MSG_ADVISORY_FINDINGS = "Choose the finding(s) the advisory rests on: at least one of this submission's findings."
MSG_ADVISORY_REPEATED = "Name each finding once: the list repeats one."
MSG_ADVISORY_OPEN = "An advisory on this model already waits for concurrence: it is concurred with or issued first."
MSG_ADVISORY_CHANGED = "The advisory changed after you opened the page: read it again before you concur."


def advisory_propose(*, submission, actor, text: str, findings) -> Advisory:
    """The review's lead proposes an advisory on a released model, resting on findings the lead
    may see; a second reviewer's concurrence issues it (advisory_concur)."""
    if not rules.may_propose_advisory(actor, submission):
        raise NotPermitted("Only the review's lead reviewer can propose an advisory, on a released model.")
    _refuse_control_characters(multi_line={"text": text}, limits={"text": 20000})
    if not has_words(text):
        raise ValidationFailed(MSG_ADVISORY_TEXT, details={"text": [MSG_ADVISORY_TEXT]})
    ids = [getattr(f, "pk", f) for f in (findings or [])]
    if not ids:
        raise ValidationFailed(MSG_ADVISORY_FINDINGS, details={"findings": [MSG_ADVISORY_FINDINGS]})
    if len(set(ids)) != len(ids):
        raise ValidationFailed(MSG_ADVISORY_REPEATED, details={"findings": [MSG_ADVISORY_REPEATED]})
    # Only findings of this submission the proposer is cleared to see: any other id is unknown.
    chosen = list(Finding.objects.visible_to(actor).filter(submission=submission, pk__in=ids))
    if len(chosen) != len(ids):
        raise ValidationFailed(MSG_ADVISORY_FINDINGS, details={"findings": [MSG_ADVISORY_FINDINGS]})
    with transaction.atomic():
        _lock_under_evaluation(submission, (State.RELEASED,))
        if Advisory.objects.filter(submission=submission, issued_at__isnull=True).exists():
            raise ValidationFailed(MSG_ADVISORY_OPEN)
        try:
            with transaction.atomic():
                advisory = Advisory.objects.create(
                    submission=submission, text=text.strip(), proposed_by=actor, proposed_at=clock.now()
                )
        except IntegrityError:  # another lead's proposal won the race
            raise ValidationFailed(MSG_ADVISORY_OPEN) from None
        advisory.findings.set(chosen)
        audit_record(
            submission=submission,
            actor=actor,
            action="advisory_proposed",
            comment=f"Resting on {len(chosen)} finding{'s' if len(chosen) != 1 else ''}",
            internal=True,
        )
        concurrers = [
            a.reviewer
            for a in submission.assignments.select_related("reviewer")
            if rules.may_concur_advisory(a.reviewer, advisory)
        ]
        if concurrers:
            event_record(
                submission=submission,
                type="review.concurrence_requested",
                extra={
                    "next_action": f"{actor} proposed an advisory on the released model. Read it on the submission "
                    "page and concur if you agree (two-person rule): your concurrence issues it."
                },
                recipients=concurrers,
            )
    return advisory


def advisory_digest(advisory: Advisory) -> str:
    """What the concurring reviewer read: the text and the findings it rests on."""
    import hashlib
    import json

    sealed = {"text": advisory.text, "findings": sorted(advisory.findings.values_list("pk", flat=True))}
    return hashlib.sha256(json.dumps(sealed, sort_keys=True).encode()).hexdigest()


def advisory_concur(*, advisory: Advisory, actor, seen_digest: str | None = None) -> Advisory:
    """A second reviewer agrees, which issues the advisory: the developer and partners are told."""
    refusal = rules.advisory_concurrence_refusal(actor, advisory)
    if refusal:
        raise NotPermitted(refusal)
    with transaction.atomic():
        _lock_under_evaluation(advisory.submission, (State.RELEASED,))
        current = Advisory.objects.select_for_update().get(pk=advisory.pk)
        if seen_digest is not None and seen_digest != advisory_digest(current):
            raise ValidationFailed(MSG_ADVISORY_CHANGED)
        now = clock.now()
        # Conditional update: two reviewers concurring at once, only one issues it.
        updated = Advisory.objects.filter(pk=advisory.pk, issued_at__isnull=True).update(
            concurred_by=actor, concurred_at=now, issued_at=now
        )
        if updated != 1:
            raise ValidationFailed("This advisory has already been issued.")
        current.refresh_from_db()
        audit_record(submission=advisory.submission, actor=actor, action="advisory_issued")
        event_record(
            submission=advisory.submission,
            type="submission.advisory",
            extra={"advisory": current.text, "advisory_issued_at": now.isoformat()},
        )
    advisory.refresh_from_db()
    return advisory
