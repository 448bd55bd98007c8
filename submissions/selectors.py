"""What the pages read about submissions, scoped by who is asking."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, F, Prefetch
from django.db.models.functions import Coalesce

from accounts import rules
from accounts.roles import Role, has_role
from caisi_portal import clock, timefmt

from .models import (
    OPEN_REVIEW_STATES,
    AccessRemovalOrder,
    Agreement,
    InformationRequest,
    ModelSubmission,
    ReleaseChannel,
    ReviewClock,
    SlaBreach,
    State,
)
from .review_clock import clock_cell, describe_remaining, humanize
from .states import OPEN_WEIGHTS_NOTE


def submission_list(user):
    return ModelSubmission.objects.visible_to(user).select_related("organization")


HOME_ROWS = 15


def submission_sections(user) -> dict[str, dict]:
    """The lists a person works from, by role: key -> title, queryset and empty-state hint.

    The home page shows the first rows of each; the list page shows one in full, paginated.
    """
    sections = {}
    base = submission_list(user)
    if has_role(user, Role.DEVELOPER_STAFF) and user.organization_id:
        mine = base.filter(organization_id=user.organization_id)
        # What the lab owes the office is in "Waiting on you" above the lists, sorted by deadline.
        sections["organization"] = {
            "title": f"{user.organization} submissions",
            "items": mine,
            "empty": "Your organization has filed nothing yet. Start with “New submission”.",
        }
    if has_role(user, Role.REVIEWER, Role.LEAD_REVIEWER):
        sections["queue"] = {
            "title": "Your review queue",
            "by_deadline": True,
            "items": base.filter(assignments__reviewer=user, state__in=OPEN_REVIEW_STATES),
            "empty": "No open review is assigned to you.",
        }
    if has_role(user, Role.REVIEWER, Role.LEAD_REVIEWER):
        sections["past"] = {
            "title": "Reviews you took part in",
            "items": base.filter(assignments__reviewer=user).exclude(state__in=OPEN_REVIEW_STATES),
            "empty": "None of your reviews has ended yet.",
        }
    if has_role(user, Role.LEAD_REVIEWER):
        sections["intake"] = {
            "title": "Intake queue",
            "by_deadline": True,
            "items": base.filter(state=State.INTAKE),
            "empty": "No submission is waiting for intake.",
        }
    if rules.is_administrator(user):
        sections["open"] = {
            "title": "Open reviews",
            "by_deadline": True,
            "items": base.filter(state__in=OPEN_REVIEW_STATES),
            "empty": "No review is open.",
        }
        sections["elapsed"] = {
            "title": "Windows elapsed without a determination",
            "items": base.filter(state=State.WINDOW_ELAPSED),
            "empty": "No review window has elapsed without a determination.",
        }
        sections["determined"] = {
            "title": "Determined, released or withdrawn",
            "items": base.exclude(state__in=(*OPEN_REVIEW_STATES, State.DRAFT, State.WINDOW_ELAPSED)),
            "empty": "No determination has been issued yet.",
        }
    if rules.is_institute_reviewer(user):
        # The scope holds only the reviews their institute joined (accounts.rules).
        sections["joint"] = {
            "title": "Your institute's joint reviews",
            "by_deadline": True,
            "items": base,
            "empty": "Your institute takes part in no review now: accepted invitations bring reviews here.",
        }
    if has_role(user, Role.TRUSTED_PARTNER):
        # Newest announcement first: a determination's issue, or the moment a window elapsed.
        announced = base.annotate(
            announced_at=Coalesce("determination__issued_at", "review_clock__stopped_at")
        ).order_by(F("announced_at").desc(nulls_last=True), "-pk")
        sections["announced"] = {
            "title": "Determinations announced to trusted partners",
            "items": announced,
            "empty": "Nothing has been announced to trusted partners yet.",
            "hide_clock": True,  # the office's clock is not the partners' business
        }
    return sections


def ordered(section):
    """Queues of open reviews soonest deadline first (the nearest is the most urgent)."""
    if section.get("by_deadline"):
        return section["items"].order_by(F("review_clock__deadline_at").asc(nulls_last=True), "-pk")
    return section["items"]  # the rest newest first (the model's ordering)


def with_clocks(rows, now=None) -> list:
    """The rows, each with `clock_cell` (text, status) from its review clock (select_related),
    and `early_open_weights` (weights to be published before the review can end: a queue mark)."""
    now = now or clock.now()
    rows = list(rows)
    for row in rows:
        try:
            review_clock = row.review_clock
        except ReviewClock.DoesNotExist:
            review_clock = None
        row.clock_cell = clock_cell(review_clock, now)
        ends = review_clock.deadline_at if review_clock is not None else None
        row.early_open_weights = bool(ends) and _before_review_ends(row, ends)
    return rows


# --- open weights planned before the review can end ----------------------------------------
# The seed articles: weights "could already be running on tens of thousands of servers before
# the review concludes". Published weights cannot be recalled, so the developer is warned at
# draft and at submission, and the office's queue marks the submission.


def _before_review_ends(submission, ends: dt.datetime) -> bool:
    return (
        submission.release_channel == ReleaseChannel.OPEN_WEIGHTS
        and submission.planned_release_date is not None
        and submission.state in (State.DRAFT, *OPEN_REVIEW_STATES)
        and submission.planned_release_date < timefmt.local(ends).date()
    )


def review_would_end(submission, now=None) -> dt.datetime | None:
    """When this review ends: its clock's deadline once submitted; for a draft, the deadline a
    submission made now would have (the agreement's window from now)."""
    now = now or clock.now()
    if submission.state == State.DRAFT:
        agreement = Agreement.objects.filter(organization_id=submission.organization_id).first()
        return now + dt.timedelta(days=agreement.review_window_days if agreement else 30)
    review_clock = ReviewClock.objects.filter(submission=submission).first()
    return review_clock.deadline_at if review_clock is not None else None


def early_open_weights_warning(submission, now=None) -> str:
    """The warning when open weights are to be published before the review can end ("" if not)."""
    ends = review_would_end(submission, now)
    if ends is None or not _before_review_ends(submission, ends):
        return ""
    planned, end_day = timefmt.day(submission.planned_release_date), timefmt.day(ends)
    if submission.state == State.DRAFT:
        return (
            f"You plan to publish the weights on {planned}, before this review could end: submitted today, "
            f"the office has until {end_day}. Published weights cannot be recalled, and could be running on "
            f"thousands of servers before the review concludes. Move the planned release after {end_day}, "
            "or say in the model card why it cannot wait."
        )
    return (
        f"The weights are to be published on {planned}, before the review ends on {end_day}. "
        "Published weights cannot be recalled: what the review finds after that date cannot stop their spread."
    )


def home_sections(user) -> list[dict]:
    """Each section's newest rows, and its size when there is more than the page shows."""
    out = []
    for key, section in submission_sections(user).items():
        rows = with_clocks(ordered(section).select_related("review_clock")[: HOME_ROWS + 1])
        more = len(rows) > HOME_ROWS
        out.append(
            {
                **section,
                "key": key,
                "items": rows[:HOME_ROWS],
                # Counted only when it is more than the page shows: small lists cost one query.
                "total": section["items"].count() if more else len(rows),
                "more": more,
            }
        )
    return out


def exercise_home(user) -> dict:
    """Controllers and evaluators find their exercises on their home page; trainees, how to join one."""
    from exercises.models import Exercise

    if rules.is_administrator(user) or rules.is_player(user):
        return {}
    may_start = rules.may_create_exercise(user)
    exercises = rules.scope_exercises(Exercise.objects.all(), user)[:10]
    if not may_start and not exercises:
        return {"trainee": rules.has_role(user, Role.TRAINEE)}
    return {"exercises": exercises, "may_start_exercise": may_start}


def state_counts(user) -> list[tuple[str, str, int]]:
    """(state, label, count) for each state that has submissions, in the workflow's order."""
    rows = submission_list(user).values("state").annotate(n=Count("pk"))
    counted = {row["state"]: row["n"] for row in rows}
    return [(state.value, state.label, counted[state.value]) for state in State if state.value in counted]


def clock_summary(submission, user) -> dict:
    """The review clock and its state in words, for the developer and the office (not partners)."""
    if not rules.may_view_review_clock(user, submission):
        return {}
    review_clock = ReviewClock.objects.filter(submission=submission).prefetch_related("pauses").first()
    if review_clock is None:
        return {}
    now = clock.now()
    summary = {"review_clock": review_clock, "clock_text": describe_remaining(review_clock, now)}
    if review_clock.status == ReviewClock.Status.PAUSED:
        # No deadline runs while paused: the stored one is where it stood when the pause began,
        # and reading it as a deadline would call a paused review overdue.
        summary["left_when_resumed"] = humanize(review_clock.remaining(now))
    return summary


def submission_detail_context(submission, user) -> dict:
    """Everything the submission page shows this user, and nothing more."""
    from benchmarks.trends import compared_with_earlier_models
    from joint.selectors import invitations_of
    from reviews.models import Determination, Finding

    office_view = rules.may_see_internal_review(user, submission)
    developer_view = rules.is_developer_of(user, submission.organization_id)
    # An allied institute's reviewer on a joint review: the plan, results and findings within
    # the cap, and their own forms; never the office's assignments, proposals or trail.
    joint_view = not office_view and rules.takes_part_jointly(user, submission)
    context = {
        "office_view": office_view,
        "developer_view": developer_view,
        "joint_view": joint_view,
        "partner_view": not rules.is_developer_or_office(user, submission) and not joint_view,
        "timeline": timeline(submission, user),
        "artifacts": submission.artifacts.select_related("uploaded_by")
        if rules.may_view_artifacts(user, submission)
        else None,
        "information_requests": (
            submission.information_requests.select_related("requested_by", "answered_by")
            if rules.may_view_information_requests(user, submission)
            else None
        ),
        "agreement": Agreement.objects.filter(organization_id=submission.organization_id).first(),
    }
    determination = (
        Determination.objects.filter(submission=submission).select_related("decided_by", "concurred_by").first()
    )
    context.update(version_links(submission, user))
    context["version_deltas"] = version_deltas(submission, user)
    context["compared"] = compared_with_earlier_models(submission, user)
    if office_view:
        context.update(
            assignments=submission.assignments.select_related("reviewer", "handover__reviewer"),
            plan=_plan_with_results(submission, user),
            findings=_findings_shown(submission, user),
            hidden_findings=submission.findings.exclude(
                pk__in=Finding.objects.visible_to(user).filter(submission=submission).values("pk")
            ).count(),
            proposal=determination,
            joint_invitations=invitations_of(submission, user),
            may_invite_institute=rules.may_invite_institute(user, submission),
        )
        from . import reminders

        context["assignments"] = list(context["assignments"])
        # Overdue planned results: who this person may remind, and what the button will do.
        offers = reminders.remind_offers(submission, user, context["assignments"])
        for a in context["assignments"]:
            a.remind_offer = offers.get(a.pk)
    if joint_view:
        context.update(plan=_plan_with_results(submission, user), findings=_findings_shown(submission, user))
    # Outside the office, only an issued determination, and only its released summary.
    context["issued_determination"] = determination if determination and determination.issued_at else None
    if context["issued_determination"] is not None:
        # A joint review: the institutes that contributed, named on the record for everyone who sees it.
        context["contributing_institutes"] = list(determination.contributing_institutes.all())
    context.update(clock_summary(submission, user))
    review_clock = context.get("review_clock")
    if review_clock:
        now = clock.now()
        context["clock_pauses"] = [(p, humanize(p.duration(now))) for p in review_clock.pauses.all()]
        if office_view:
            context["breaches"] = SlaBreach.objects.filter(submission=submission).select_related("acknowledged_by")
    context["early_open_weights"] = early_open_weights_warning(submission)
    context["open_information_request"] = (
        InformationRequest.objects.filter(submission=submission, answered_at__isnull=True).first()
        if submission.state == State.INFORMATION_REQUESTED
        else None
    )
    context.update(orders_context(submission, user, office_view=office_view))
    return context


def _findings_shown(submission, user) -> list:
    """The findings this reader is cleared for, each carried one with where it came from and
    `resolvable` (this person may resolve it now): a fixed number of queries."""
    from reviews.models import Finding

    findings = list(
        Finding.objects.visible_to(user)
        .filter(submission=submission)
        .select_related("domain", "recorded_by", "institute", "carried_from__submission", "resolved_by")
    )
    lead = any(f.is_carried for f in findings) and rules.may_resolve_findings_on(user, submission)
    for f in findings:
        f.resolvable = lead and rules.finding_resolvable_by(user, f)
    return findings


def orders_context(submission, user, *, office_view: bool) -> dict:
    """Government orders (in force and lifted), where open weights were published, and the
    advisories: public facts about the model for whoever sees it; proposals for the office."""
    from reviews.models import Finding
    from reviews.services import advisory_digest

    orders = list(submission.access_orders.select_related("recorded_by", "lifted_by"))
    shown: dict = {}  # each person asked about once, however many orders they recorded

    def as_shown(person):
        if person is None:
            return None
        if person.pk not in shown:
            shown[person.pk] = rules.actor_as_shown_to(user, person, submission)
        return shown[person.pk]

    for order in orders:
        order.recorded_by_shown = as_shown(order.recorded_by)
        order.lifted_by_shown = as_shown(order.lifted_by)
    in_force = next((o for o in orders if o.in_force), None)
    publications = list(submission.weights_publications.all()) if submission.is_open_weights else []
    withdrawal_refusal = (
        rules.weights_withdrawal_refusal(user, submission, order_in_force=in_force is not None) if publications else ""
    )
    advisories = list(submission.advisories.select_related("proposed_by", "concurred_by").prefetch_related("findings"))
    open_advisory = next((a for a in advisories if a.issued_at is None), None)
    context = {
        "orders": orders,
        "order_in_force": in_force,
        "may_record_order": in_force is None and rules.may_record_access_order(user, submission),
        "may_lift_order": in_force is not None and rules.may_lift_access_order(user, in_force),
        "publications": [p for p in publications if p.withdrawn_at is None],
        "withdrawn_publications": [p for p in publications if p.withdrawn_at is not None],
        "may_record_publication": rules.may_record_weights_publication(user, submission),
        "publication_withdrawal_refusal": withdrawal_refusal,
        "issued_advisories": [a for a in advisories if a.issued_at is not None],
        "open_advisory": open_advisory if office_view else None,
    }
    if open_advisory is not None and office_view:
        context["may_concur_advisory"] = rules.may_concur_advisory(user, open_advisory)
        context["advisory_refusal"] = rules.advisory_concurrence_refusal(user, open_advisory)
        context["advisory_digest"] = advisory_digest(open_advisory)
    if open_advisory is None and rules.may_propose_advisory(user, submission):
        context["advisory_findings"] = list(Finding.objects.visible_to(user).filter(submission=submission))
    return context


def timeline(submission, user) -> list:
    """The entries this person may read, each with `shown_actor` as they may know it."""
    entries = list(submission.audit_entries.for_viewer(user).select_related("actor"))
    shown: dict = {}  # each person's roles asked once, however many entries they wrote
    for e in entries:
        if e.actor_id not in shown:
            shown[e.actor_id] = rules.actor_as_shown_to(user, e.actor, submission)
        e.shown_actor = shown[e.actor_id]
    return entries


def _plan_with_results(submission, user):
    """Each planned domain with its planned benchmark versions and their results, as this
    person may read them: versions above their clearance (or their institute's cap) are
    counted, never named, with how many of them have a result. The domain's roll-up (the worst
    of its results, reviews.models.domain_outcome) is of the results shown. Three queries."""
    from benchmarks.models import BenchmarkVersion
    from reviews.models import domain_outcome

    clearance = rules.evidence_clearance(user, submission)
    results = {
        r.version_id: r for r in submission.results.select_related("recorded_by", "institute", "version__benchmark")
    }
    items = submission.plan_items.select_related("domain").prefetch_related(
        Prefetch("versions", queryset=BenchmarkVersion.objects.select_related("benchmark"))
    )
    rows = []
    for item in items.order_by("domain__sort_order", "domain__name"):
        shown, hidden_planned, hidden_recorded = [], 0, 0
        for version in sorted(item.versions.all(), key=lambda v: (v.benchmark.name, v.label)):
            if version.classification <= clearance:
                shown.append({"version": version, "result": results.get(version.pk)})
            else:
                hidden_planned += 1
                hidden_recorded += version.pk in results
        recorded = [row["result"] for row in shown if row["result"] is not None]
        rows.append(
            {
                "domain": item.domain,
                "versions": shown,
                "hidden_planned": hidden_planned,
                "hidden_recorded": hidden_recorded,
                "rollup": domain_outcome(recorded),
            }
        )
    return rows


def agreements_for(user):
    return (
        Agreement.objects.visible_to(user)
        .select_related("organization")
        .prefetch_related(Prefetch("events", to_attr="history"))
    )


def action_context(submission, name: str, user) -> dict:
    """What a transition's page says before the button: what it will do, to whom, by when,
    and whether it can be undone; with what the person needs in front of them to do it."""
    from .models import Artifact, SlaKind, SlaObligation, SlaPolicy

    now = clock.now()
    policy = SlaPolicy.current()
    org = submission.organization
    said: list[tuple[str, object]] = []  # (sentence, a moment shown after it, or None)
    irreversible = False
    context: dict = {}
    if name == "submit":
        context["release_warning"] = early_open_weights_warning(submission, now)
        agreement = Agreement.objects.filter(organization_id=submission.organization_id).first()
        days = agreement.review_window_days if agreement else 30
        said += [
            (
                f"The office's {days}-day review window starts now: the review clock runs until",
                now + dt.timedelta(days=days),
            ),
            ("The office decides on intake by", now + dt.timedelta(days=policy.intake_decision_days)),
            ("The draft can no longer be edited once submitted; you can still withdraw it.", None),
        ]
    elif name == "accept":
        said += [
            ("The submission moves into evaluation with the domains you choose; results are recorded for each.", None),
            ("A lead reviewer must be assigned by", now + dt.timedelta(days=policy.reviewer_assignment_days)),
        ]
        context["cards"] = submission.artifacts.filter(kind__in=(Artifact.Kind.MODEL_CARD, Artifact.Kind.SYSTEM_CARD))
        if submission.supersedes_id is not None:
            from caisi_portal.words import counted
            from reviews.models import Finding

            earlier = submission.supersedes
            carried = Finding.objects.filter(submission=earlier, resolved_at__isnull=True).count()
            planned = ", ".join(
                str(item.domain) for item in earlier.plan_items.select_related("domain").order_by("domain__sort_order")
            )
            said += [
                (
                    f"This is a new version of {earlier}: {counted(carried, 'open finding')} of that version "
                    "will be carried forward, each to be resolved before this version can be cleared.",
                    None,
                ),
                (
                    f"A re-review may plan fewer domains (the earlier version planned: {planned or 'none'}) and "
                    "take a shorter window than the agreement's.",
                    None,
                ),
            ]
    elif name == "request_information":
        said += [
            (
                f"The review clock pauses from the moment you send this until {org} answers: "
                "the deadline moves later by the time they take.",
                None,
            ),
            (
                f"{org} staff are emailed your questions and asked to answer within "
                f"{policy.developer_answer_days} days, by",
                now + dt.timedelta(days=policy.developer_answer_days),
            ),
        ]
        review_clock_row = ReviewClock.objects.filter(submission=submission).first()
        if review_clock_row is not None:
            from .review_clock import pause_limit

            returned_at, _ = pause_limit(review_clock_row.paused_total, now)
            said.append(
                (
                    f"Unanswered, the submission is returned (withdrawn for lack of an answer) when the review's "
                    f"pause allowance ({policy.information_pause_cap_days} days across all its requests; "
                    f"{humanize(review_clock_row.paused_total)} used) runs out, on",
                    returned_at,
                )
            )
    elif name == "answer_information_request":
        context["open_request"] = InformationRequest.objects.filter(
            submission=submission, answered_at__isnull=True
        ).first()
        obligation = SlaObligation.objects.filter(
            submission=submission, kind=SlaKind.DEVELOPER_ANSWER, closed_at__isnull=True
        ).first()
        if obligation is not None:
            context["answer_by"] = obligation.due_at
        said += [("Your answer goes to the office, and the review clock starts again when you send it.", None)]
    elif name == "withdraw":
        irreversible = True
        if submission.state == State.DRAFT:
            said += [
                ("Withdrawing the draft closes it: the office never receives it.", None),
                ("It cannot be undone: to file this model later, start a new submission.", None),
            ]
        else:
            said += [
                ("Withdrawing ends this review for good: the office stops work and the review clock stops.", None),
                ("It cannot be undone: to be reviewed later, file a new submission.", None),
            ]
    elif name == "record_release":
        irreversible = True
        if submission.state == State.FLAGGED:
            context["release_warning"] = (
                "The office flagged this model. The agreement is voluntary, so you may still release it, "
                "but the record will say it was released despite the flag."
            )
        # Who the partners are is the office's business: the developer is told that they are told.
        said.append(
            (
                "Trusted partners subscribed to release notices are told the model was released"
                + (" despite the flag." if submission.state == State.FLAGGED else "."),
                None,
            )
        )
        if submission.is_open_weights:
            said.append(("Published open weights cannot be recalled: nobody can undo their spread.", None))
        said.append(("A recorded release cannot be taken back.", None))
    elif name == "remove_access":
        irreversible = True
        said += [(text, None) for text in order_consequences(submission, removal=True)]
    elif name == "withdraw_for_agreement":
        irreversible = True
        agreement = Agreement.objects.filter(organization_id=submission.organization_id).first()
        status = agreement.get_status_display().lower() if agreement else "no longer in force"
        said += [
            (
                f"{org}'s review agreement is {status}: withdrawing ends this review for good, and its "
                "review clock stops.",
                None,
            ),
            (f"{org} staff and the review's reviewers are emailed that the review ended with the agreement.", None),
            ("Write the reason in the comment: it goes into the timeline and the notice.", None),
            ("It cannot be undone: to be reviewed again, the developer files a new submission.", None),
        ]
    elif name == "reinstate_access":
        order = AccessRemovalOrder.objects.filter(submission=submission, lifted_at__isnull=True).first()
        if order is not None:
            said += [(text, None) for text in lift_consequences(order)]
    return {"consequences": said, "irreversible": irreversible, **context}


def _told(submission, event_type: str) -> str:
    """'Lab Alpha and 3 subscribed partners' (who an order's notice reaches)."""
    from caisi_portal.words import counted
    from partners.services import partners_told

    partners = len(partners_told(submission, event_type))
    told = f"{submission.organization} and {counted(partners, 'subscribed partner')}" if partners else None
    return told or f"{submission.organization} (no partner is subscribed to these notices)"


def order_consequences(submission, *, removal: bool) -> list[str]:
    """What recording a government order does, and to whom, said before it is recorded."""
    if removal:
        said = [
            f"Record the order: {_told(submission, 'submission.access_removed')} are told, and the administrators; "
            "the model is marked access removed.",
            "The release gate answers blocked until the order is lifted.",
        ]
    else:
        said = [
            f"Record the order as a hold on the release: {_told(submission, 'submission.access_hold')} are told, "
            "and the administrators.",
            f"{submission.organization} cannot record the release, and the release gate answers blocked, "
            "until the order is lifted.",
        ]
    said.append(
        "Its reference, date, issuing authority and scope, as entered below, are quoted in every notice and "
        "by the release gate"
        + (
            "."
            if submission.is_exercise
            else "; the review is on the public register, so the order appears there too, for anyone to read."
            if submission.published_at
            else "; if the review is later published on the public register, the order appears there too."
        )
    )
    if submission.is_open_weights:
        said.append(
            OPEN_WEIGHTS_NOTE + " The order stops distribution by the developer only; the record, the page "
            "and every notice say so, with the published locations and file hashes."
        )
    return said


def lift_consequences(order) -> list[str]:
    submission = order.submission
    back = State(order.previous_state).label.lower()
    said = [f"Lift order {order.reference}: {_told(submission, 'submission.access_reinstated')} are told."]
    if order.kind == AccessRemovalOrder.Kind.REMOVAL:
        said.append(f"Access is reinstated: the model returns to {back}, and the release gate answers for that again.")
    else:
        said.append(f"The hold ends: {submission.organization} may record the release again.")
    return said


def agreement_notice(user) -> str:
    """For developer staff whose organization cannot submit: why, and who acts (else "")."""
    if not (has_role(user, Role.DEVELOPER_STAFF) and user.organization_id):
        return ""
    agreement = Agreement.objects.filter(organization_id=user.organization_id).first()
    if agreement is not None and agreement.allows_submission:
        return ""
    status = agreement.get_status_display().lower() if agreement else "not recorded"
    return (
        f"{user.organization}'s review agreement with the office is {status}. You can prepare drafts, "
        "but none can be submitted for review until the agreement is signed: that is for your "
        "organization's signatories and the review office, not for the draft."
    )


# --- new versions: results compared with the version superseded ------------------------------


def version_deltas(submission, user) -> dict | None:
    """The new version's results beside the earlier version's, per benchmark, for a reader who
    may see this review's results (None for anyone else).

    Each row: the domain, the benchmark, the result now and then (None when there is none, or
    when the reader may not see that side: `then_hidden`), and the change in score when both
    are shown and were measured by the same benchmark version (scores of two versions of a
    benchmark are not on one scale), and whether this review plans the benchmark. Benchmarks
    above the reader's clearance are left out and counted. A fixed number of queries: the
    earlier version, the two versions' results, the plan's benchmarks (and the rules' own,
    asked once).
    """
    from reviews.models import EvaluationPlanItem, EvaluationResult

    if submission.supersedes_id is None or not rules.may_see_version_deltas(user, submission):
        return None
    earlier = ModelSubmission.objects.select_related("organization").get(pk=submission.supersedes_id)
    then_shown = rules.may_see_earlier_results(user, earlier)
    clearance = rules.evidence_clearance(user, submission)
    results = EvaluationResult.objects.filter(submission_id__in=[submission.pk, earlier.pk]).select_related(
        "domain", "version__benchmark"
    )
    # A re-review may plan fewer benchmarks than the version it supersedes: a row without a
    # result now says whether one is still to come or the benchmark is not in this plan.
    planned = set(
        EvaluationPlanItem.versions.through.objects.filter(evaluationplanitem__submission=submission).values_list(
            "benchmarkversion__benchmark_id", flat=True
        )
    )
    now_by, then_by, benchmarks, hidden = {}, {}, {}, set()
    for r in results:
        if r.version.classification > clearance:
            hidden.add(r.version.benchmark_id)
            continue
        key = r.version.benchmark_id
        (now_by if r.submission_id == submission.pk else then_by)[key] = r
        benchmarks[key] = (r.domain, r.version.benchmark)
    rows = []
    for key, (domain, benchmark) in sorted(
        benchmarks.items(), key=lambda kv: (kv[1][0].sort_order, kv[1][0].name, kv[1][1].name)
    ):
        now, then = now_by.get(key), then_by.get(key) if then_shown else None
        if now is None and then is None:
            continue
        comparable = now is not None and then is not None and now.version_id == then.version_id
        rows.append(
            {
                "domain": domain,
                "benchmark": benchmark,
                "now": now,
                "then": then,
                "change": now.score - then.score if comparable else None,
                "versions_differ": now is not None and then is not None and not comparable,
                "outcome_changed": now is not None and then is not None and now.verdict != then.verdict,
                "planned": key in planned,
            }
        )
    return {
        "earlier": earlier,
        "then_hidden": not then_shown,
        "hidden_benchmarks": len(hidden - set(benchmarks)),
        "rows": rows,
    }


def version_links(submission, user) -> dict:
    """The version this one supersedes and the one superseding it, as this reader may follow
    them: linked when the other submission is in their scope, named by version otherwise."""
    visible = ModelSubmission.objects.visible_to(user)
    earlier = later = None
    if submission.supersedes_id is not None:
        earlier = ModelSubmission.objects.filter(pk=submission.supersedes_id).first()
    later = ModelSubmission.objects.filter(supersedes=submission).exclude(state=State.WITHDRAWN).first()
    ids = [s.pk for s in (earlier, later) if s is not None]
    shown = set(visible.filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()
    return {
        "earlier_version": earlier,
        "earlier_version_linked": earlier is not None and earlier.pk in shown,
        "later_version": later if later is not None and later.pk in shown else None,
    }


def rereview_window_days(submission) -> int | None:
    """For a new version in intake: the longest window its re-review may be given (the window
    the submission was given when submitted); None when it supersedes nothing."""
    if submission.supersedes_id is None:
        return None
    review_clock = ReviewClock.objects.filter(submission=submission).first()
    return review_clock.window.days if review_clock is not None else None
