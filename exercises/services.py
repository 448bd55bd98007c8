"""Starting, running and ending exercises. The workflow itself is the live one.

A scenario becomes an exercise's own organizations, agreements, player accounts and
submissions, built with the same services live data goes through, on the exercise's
simulated clock. The tick fires due injects and acts on the exercise's due review
clocks and SLA obligations with `review_clock.act_on_due_items`, the live sweep's code.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import rules
from accounts.models import Clearance
from accounts.roles import Role
from caisi_portal import clock, timefmt
from caisi_portal.errors import ApplicationError, NotPermitted, ValidationFailed
from partners.models import PartnerEventType, TrustedPartner
from reviews import services as review_services
from reviews.models import Assignment, EvaluationDomain
from submissions import review_clock
from submissions import services as submission_services
from submissions.models import Agreement, Artifact, Organization

from .models import Exercise, Inject, Message, Objective, Observation, Participant
from .scenarios import START_STATES, Scenario

MAX_SPEED = 10080  # a week a minute
log = logging.getLogger(__name__)


# --- creating an exercise from a scenario --------------------------------------------------


@dataclass
class SignInSheet:
    exercise: Exercise
    passwords: dict[str, str] = field(default_factory=dict)  # username -> password, shown once


class ExerciseAlreadyStarted(ApplicationError):
    """The start form was sent again: its exercise exists, and its passwords were shown once."""

    status_code = 409
    code = "already_started"

    def __init__(self, exercise):
        super().__init__(
            f"{exercise.name} was already started from this form. Its players' passwords were shown once; "
            "give a player a new one from the console."
        )
        self.exercise = exercise


def _exercise_row(scenario, actor, speed, name, start_token) -> Exercise:
    data = scenario.data
    start = dt.datetime.fromisoformat(data["start"])
    wall = timezone.now()
    return Exercise.objects.create(
        name=name or data["name"],
        scenario_slug=data["slug"],
        scenario=data,
        sim_start=start,
        sim_anchor=start,
        speed=_speed(speed if speed is not None else data.get("speed", 1440)),
        duration_days=data["duration_days"],
        created_by=actor,
        created_at=wall,
        start_token=start_token,
    )


@transaction.atomic
def exercise_create(
    *, scenario: Scenario, actor, speed: float | None = None, name: str = "", start_token=None
) -> SignInSheet:
    if not rules.may_create_exercise(actor):
        raise NotPermitted("Only exercise controllers and administrators can start exercises.")
    if start_token and (earlier := Exercise.objects.filter(start_token=start_token).first()):
        raise ExerciseAlreadyStarted(earlier)
    data = scenario.data
    start = dt.datetime.fromisoformat(data["start"])
    try:
        with transaction.atomic():
            exercise = _exercise_row(scenario, actor, speed, name, start_token)
    except IntegrityError:
        if not start_token:
            raise
        # The same form sent twice at once: the first one's exercise stands.
        raise ExerciseAlreadyStarted(Exercise.objects.get(start_token=start_token)) from None
    Participant.objects.create(exercise=exercise, user=actor, role=Participant.Role.CONTROLLER)
    objectives = {
        o["key"]: Objective.objects.create(exercise=exercise, key=o["key"], text=o["text"]) for o in data["objectives"]
    }
    sheet = SignInSheet(exercise)
    with clock.simulated(lambda: exercise.sim_anchor):
        orgs = {spec["slug"]: _organization(exercise, spec) for spec in data["organizations"]}
        players = {spec["username"]: _player(exercise, spec, orgs, sheet) for spec in data["players"]}
        for spec in data.get("submissions", []):
            _submission(exercise, spec, players)
    Inject.objects.bulk_create(
        Inject(
            exercise=exercise,
            number=spec["number"],
            due_at=start + dt.timedelta(days=spec["day"], hours=spec["hour"]),
            sender=spec["from"],
            recipients=spec["to"],
            delivery=spec["delivery"],
            subject=spec["subject"],
            content=spec["content"],
            expected_action=spec["expected_action"],
            objective=objectives[spec["objective"]],
        )
        for spec in data["injects"]
    )
    return sheet


def _speed(value) -> float:
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed("The speed must be a number.", details={"speed": ["Enter a number."]}) from None
    if not 1 <= speed <= MAX_SPEED:
        message = f"The speed must be from 1 (real time) to {MAX_SPEED} (a week a minute)."
        raise ValidationFailed(message, details={"speed": [message]})
    return speed


def _organization(exercise, spec) -> Organization:
    org = Organization.objects.create(
        slug=f"x{exercise.pk}-{spec['slug']}",
        name=f"{spec['name']} [exercise {exercise.pk}]",
        kind=spec["kind"],
        exercise=exercise,
        is_simulated=True,
    )
    if spec["kind"] == "developer" and spec.get("agreement", "none") != "none":
        agreement = Agreement.objects.create(organization=org, review_window_days=spec.get("review_window_days", 30))
        agreement.sign() if spec["agreement"] == "signed" else agreement.open_negotiation()
        agreement.save()
    if spec["kind"] == "trusted_partner":
        # The exercise's own partner: its notifications are recorded for the review, never sent.
        TrustedPartner.objects.create(
            organization=org,
            is_exercise=True,
            emails=f"{spec['slug']}@exercise.invalid",
            event_types=list(PartnerEventType.values),
        )
    return org


def _player(exercise, spec, orgs, sheet):
    password = secrets.token_urlsafe(9)
    user = get_user_model().objects.create_user(
        username=f"x{exercise.pk}.{spec['username']}",
        password=password,
        first_name=spec["name"],
        email=f"x{exercise.pk}.{spec['username']}@exercise.invalid",
        organization=orgs[spec["organization"]],
        clearance=Clearance[spec.get("clearance", "UNCLASSIFIED")],
        exercise=exercise,
        is_simulated=True,
        password_expires_at=_sheet_expiry(),
    )
    user.groups.add(Group.objects.get(name=spec["role"]))
    Participant.objects.create(
        exercise=exercise,
        user=user,
        role=Participant.Role.PLAYER,
        plays=f"{Role(spec['role']).label}, {orgs[spec['organization']].name}",
    )
    sheet.passwords[user.username] = password
    return user


def _submission(exercise, spec, players):
    """File and carry one scenario submission to its starting state, as its players would."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    by = players[spec["by"]]
    admin = next((p for p in players.values() if rules.is_administrator(p)), None)
    s = submission_services.submission_create_draft(
        actor=by,
        model_name=spec["model_name"],
        model_version=str(spec["model_version"]),
        release_channel=spec["release_channel"],
        planned_release_date=(exercise.sim_start + dt.timedelta(days=spec["planned_release_day"])).date(),
        capabilities=spec.get("capabilities", "As described in the model card."),
        intended_use="As planned by the developer (exercise).",
        evaluator_access="A dedicated evaluation endpoint (exercise).",
    )
    card = SimpleUploadedFile("model-card.md", f"# {s.model_name}\nExercise model card.\n".encode(), "text/markdown")
    submission_services.artifact_upload(submission=s, actor=by, kind=Artifact.Kind.MODEL_CARD, uploaded=card)
    target = START_STATES.index(spec["state"])

    def step(name, actor, **data):
        submission_services.submission_transition(submission=s, name=name, actor=actor, data=data)

    if target >= 1:
        step("submit", by)
    if target >= 2:
        checklist = dict.fromkeys(submission_services.INTAKE_CHECKLIST, True)
        step("accept", admin, checklist=checklist, domains=measurable_domains())
        lead = players[spec["lead"]]
        review_services.assignment_create(submission=s, reviewer=lead, role=Assignment.Role.LEAD, actor=admin)
        for name in spec.get("reviewers") or []:
            review_services.assignment_create(
                submission=s, reviewer=players[name], role=Assignment.Role.MEMBER, actor=admin
            )
    if target >= 3:
        lead = players[spec["lead"]]
        # A score below every level on each planned benchmark version (the catalog's lowest line
        # a tenth of the way towards it in the version's own direction).
        for version in planned_versions_of(s):
            review_services.evaluation_result_record(
                submission=s, version=version, actor=lead, score=_calm_score(version)
            )
        step("clear", lead, rationale="Cleared before the exercise began.", partner_summary="Cleared for release.")
    if target >= 4:
        step("record_release", by, released_at=clock.now())
    return s


def measurable_domains():
    """The active domains an exercise can evaluate: those with a current unclassified benchmark
    version (a player's clearance is simulated, so an exercise plans unclassified versions only).
    With none at all, every active domain: the plan then says a benchmark is missing."""
    from accounts.models import Clearance

    active = EvaluationDomain.objects.filter(is_active=True)
    measured = active.filter(
        benchmarks__versions__is_current=True,
        benchmarks__versions__retired_at__isnull=True,
        benchmarks__versions__is_legacy=False,
        benchmarks__versions__classification=Clearance.UNCLASSIFIED,
    ).distinct()
    return list(measured) or list(active)


def planned_versions_of(submission):
    from benchmarks.models import BenchmarkVersion
    from reviews.models import EvaluationPlanItem

    planned = EvaluationPlanItem.versions.through.objects.filter(evaluationplanitem__submission=submission)
    return BenchmarkVersion.objects.filter(pk__in=planned.values("benchmarkversion_id")).prefetch_related("levels")


def _calm_score(version):
    """A score short of every policy level of the version, whichever its direction."""
    from decimal import Decimal

    thresholds = [s.threshold for s in version.levels.all()]
    if not thresholds:
        return Decimal("0")
    if version.direction == version.Direction.HIGHER:
        return min(thresholds) / 10
    return max(thresholds) + (1 - max(thresholds)) / 2 if max(thresholds) < 1 else max(thresholds) * 2


# --- the clock -----------------------------------------------------------------------------


def _reanchor(exercise: Exercise, *, status=None, speed=None, sim_to=None) -> Exercise:
    """Change status, speed or simulated time without a jump in what has already passed."""
    wall = timezone.now()
    exercise.sim_anchor = sim_to or exercise.simulated_now(wall)
    exercise.wall_anchor = wall
    if status:
        exercise.status = status
    if speed is not None:
        exercise.speed = speed
    exercise.save(update_fields=["sim_anchor", "wall_anchor", "status", "speed"])
    return exercise


def _locked(exercise: Exercise, actor) -> Exercise:
    if not rules.may_run_exercise(actor, exercise):
        raise NotPermitted("Only this exercise's controllers can run its clock.")
    return Exercise.objects.select_for_update().get(pk=exercise.pk)


@transaction.atomic
def exercise_start(*, exercise: Exercise, actor) -> Exercise:
    exercise = _locked(exercise, actor)
    if exercise.status not in (Exercise.Status.READY, Exercise.Status.PAUSED):
        raise ValidationFailed(f"The exercise is {exercise.get_status_display().lower()}: it cannot be started.")
    if exercise.started_at is None:
        exercise.started_at = timezone.now()
        exercise.save(update_fields=["started_at"])
    return _reanchor(exercise, status=Exercise.Status.RUNNING)


@transaction.atomic
def exercise_pause(*, exercise: Exercise, actor) -> Exercise:
    exercise = _locked(exercise, actor)
    if exercise.status != Exercise.Status.RUNNING:
        raise ValidationFailed("Only a running exercise can be paused.")
    return _reanchor(exercise, status=Exercise.Status.PAUSED)


@transaction.atomic
def exercise_set_speed(*, exercise: Exercise, actor, speed) -> Exercise:
    exercise = _locked(exercise, actor)
    if exercise.status == Exercise.Status.ENDED:
        raise ValidationFailed("The exercise has ended.")
    return _reanchor(exercise, speed=_speed(speed))


@transaction.atomic
def exercise_jump(*, exercise: Exercise, actor, to: dt.datetime) -> Exercise:
    """Move simulated time forward to `to`; what falls due on the way happens at the next tick."""
    exercise = _locked(exercise, actor)
    if exercise.status == Exercise.Status.ENDED:
        raise ValidationFailed("The exercise has ended.")
    now = exercise.simulated_now()
    if to <= now:
        message = f"Simulated time only moves forward: it is already {timefmt.when(now)}."
        raise ValidationFailed(message, details={"to": [message]})
    return _reanchor(exercise, sim_to=min(to, exercise.sim_end()))


@transaction.atomic
def exercise_end(*, exercise: Exercise, actor=None) -> Exercise:
    exercise = Exercise.objects.select_for_update().get(pk=exercise.pk) if actor is None else _locked(exercise, actor)
    if exercise.status == Exercise.Status.ENDED:
        return exercise
    # Simulated time stops where the scenario ends, even if the last tick came after.
    exercise.sim_ended_at = min(exercise.simulated_now(), exercise.sim_end())
    exercise.ended_at = timezone.now()
    exercise.save(update_fields=["sim_ended_at", "ended_at"])
    ended = _reanchor(exercise, status=Exercise.Status.ENDED, sim_to=exercise.sim_ended_at)
    # Its players' accounts end with it (the after-action report keeps what they did).
    players_lock_out(ended)
    return ended


# --- injects and the tick ---------------------------------------------------------------------


def inject_fire(*, inject: Inject, sim_now: dt.datetime, actor=None) -> bool:
    """Deliver an inject once: the compare-and-set on fired_at decides who fires it.

    Never after the exercise has ended: the after-action report's timeline is closed then.
    """
    with transaction.atomic():
        won = Inject.objects.filter(
            pk=inject.pk,
            fired_at__isnull=True,
            exercise__status__in=[Exercise.Status.READY, Exercise.Status.RUNNING, Exercise.Status.PAUSED],
        ).update(fired_at=sim_now, fired_at_wall=timezone.now(), fired_by=actor)
        if not won:
            return False
        recipients = inject_recipients(inject)
        Message.objects.bulk_create(
            Message(exercise_id=inject.exercise_id, inject=inject, recipient=u, sent_at=sim_now) for u in recipients
        )
        if inject.delivery == Inject.Delivery.EMAIL:
            addresses = [u.email for u in recipients if u.email]
            body = f"{inject.content}\n\nFrom: {inject.sender} (as played)\n\nEXERCISE - simulated, not a real request."
            transaction.on_commit(
                lambda: send_mail(f"[EXERCISE] {inject.subject}", body, None, addresses, fail_silently=True)
            )
    return True


def inject_recipients(inject: Inject):
    players = get_user_model().objects.filter(exercise_id=inject.exercise_id, is_active=True)
    named = players.filter(username=f"x{inject.exercise_id}.{inject.recipients}")
    return list(named) if named.exists() else list(players.filter(groups__name=inject.recipients))


@dataclass
class TickReport:
    fired: list[int] = field(default_factory=list)
    expired: int = 0
    breached: int = 0
    warned: int = 0
    ended: bool = False


def exercise_tick(exercise: Exercise) -> TickReport:
    """What the exercise's simulated time has reached: injects in order, then the clocks."""
    report = TickReport()
    if exercise.status != Exercise.Status.RUNNING:
        return report
    sim_now = min(exercise.simulated_now(), exercise.sim_end())
    with clock.simulated(lambda: sim_now):
        for inject in exercise.injects.filter(fired_at__isnull=True, due_at__lte=sim_now).order_by("due_at", "number"):
            if inject_fire(inject=inject, sim_now=sim_now):
                report.fired.append(inject.number)
        swept = review_clock.act_on_due_items(sim_now, exercise_id=exercise.pk)
        report.expired, report.breached, report.warned = len(swept.expired), len(swept.breached), len(swept.warned)
    if sim_now >= exercise.sim_end():
        exercise_end(exercise=exercise)
        report.ended = True
    else:
        _queue_exact_time_ticks(exercise, sim_now)
    return report


# Beat's period for tick_exercises (settings.CELERY_BEAT_SCHEDULE).
TICK_PERIOD = dt.timedelta(seconds=5)


def _queue_exact_time_ticks(exercise: Exercise, sim_now: dt.datetime) -> int:
    """Injects due before the next beat tick get a tick at their exact wall-clock moment.

    At 1440x a beat tick is two simulated hours; the eta task fires the inject on time.
    A lost task costs only promptness: the next beat tick fires it anyway.
    """
    from .tasks import tick_exercise

    horizon = sim_now + TICK_PERIOD * exercise.speed
    due = exercise.injects.filter(fired_at__isnull=True, due_at__gt=sim_now, due_at__lte=horizon)
    etas = {
        exercise.wall_anchor + (at - exercise.sim_anchor) / exercise.speed
        for at in due.values_list("due_at", flat=True)
    }
    for eta in etas:
        try:
            tick_exercise.apply_async(args=[exercise.pk], eta=eta)
        except Exception:
            log.warning("Could not queue an exact-time tick for exercise %s.", exercise.pk)
    return len(etas)


def tick_running_exercises() -> dict[int, TickReport]:
    return {e.pk: exercise_tick(e) for e in Exercise.objects.filter(status=Exercise.Status.RUNNING)}


# --- evaluation -------------------------------------------------------------------------------


def observation_record(*, exercise: Exercise, actor, objective: Objective, text: str, met) -> Observation:
    if not rules.may_evaluate_exercise(actor, exercise):
        raise NotPermitted("Only this exercise's evaluators and controllers record observations.")
    if objective.exercise_id != exercise.pk:
        raise ValidationFailed("That objective is not one of this exercise's.")
    return Observation.objects.create(
        exercise=exercise,
        objective=objective,
        evaluator=actor,
        text=text,
        met=met,
        sim_at=exercise.simulated_now(),
        wall_at=timezone.now(),
    )


MSG_RESET_REFUSED = "Only this exercise's controllers can give its players a new password, and not after it has ended."


@transaction.atomic
def player_password_reset(*, exercise: Exercise, actor, player) -> str:
    """A new sign-in-sheet password, valid for the configured time from now."""
    # The exercise's row lock orders this against exercise_end: a reset either comes before
    # the end (and the end then locks the player out) or sees the exercise ended.
    exercise = Exercise.objects.select_for_update().get(pk=exercise.pk)
    player.refresh_from_db(fields=["is_active", "exercise"])
    if not rules.may_reset_player_password(actor, exercise, player):
        raise NotPermitted(MSG_RESET_REFUSED)
    password = secrets.token_urlsafe(9)
    player.set_password(password)
    player.password_expires_at = _sheet_expiry()
    player.save(update_fields=["password", "password_expires_at"])
    return password


def _sheet_expiry() -> dt.datetime:
    """Sign-in-sheet passwords are printed: they stop working after EXERCISE_SHEET_PASSWORD_HOURS."""
    from django.conf import settings

    return timezone.now() + dt.timedelta(hours=settings.EXERCISE_SHEET_PASSWORD_HOURS)


def players_lock_out(exercise: Exercise) -> int:
    """The exercise's accounts stop working: no sign-in, no session, no token, no calendar link.

    A deactivated account fails authentication on every request (accounts.backends), so an
    open browser tab is signed out at its next request even where sessions are not stored in
    the database. The password is kept so that a player who types it is told the exercise
    has ended rather than that the password is wrong.
    """
    from accounts.models import CalendarFeedToken
    from api.models import ApiToken

    players = get_user_model().objects.filter(exercise=exercise)
    count = players.filter(is_active=True).update(is_active=False)
    ApiToken.objects.filter(user__exercise=exercise, revoked_at__isnull=True).update(revoked_at=timezone.now())
    CalendarFeedToken.objects.filter(user__exercise=exercise).delete()
    _delete_sessions_of(players.values_list("pk", flat=True))
    return count


def _delete_sessions_of(user_ids) -> None:
    """Delete the stored sessions of these accounts (database sessions only; others expire
    on their own, and the accounts are inactive anyway)."""
    from django.conf import settings
    from django.contrib.sessions.models import Session

    if not settings.SESSION_ENGINE.endswith(("db", "cached_db")):
        return
    wanted = {str(pk) for pk in user_ids}
    if not wanted:
        return
    doomed = [
        s.pk
        for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(s.get_decoded().get("_auth_user_id")) in wanted
    ]
    Session.objects.filter(pk__in=doomed).delete()


def exercise_progress(exercise) -> dict:
    """Where the exercise stands: simulated time, how far through, injects delivered."""
    sim_now = exercise.simulated_now()
    span = (exercise.sim_end() - exercise.sim_start).total_seconds()
    done = (min(sim_now, exercise.sim_end()) - exercise.sim_start).total_seconds()
    injects = list(exercise.injects.order_by("due_at", "number").only("number", "subject", "due_at", "fired_at"))
    waiting = [i for i in injects if i.fired_at is None]
    if exercise.status == Exercise.Status.ENDED:
        percent = 100  # ended early by a controller: finished all the same
    else:
        percent = max(0, min(100, int(done * 100 / span))) if span else 0
    return {
        "ex": exercise,
        "sim_now": sim_now,
        "percent": percent,
        "injects_total": len(injects),
        "injects_fired": len(injects) - len(waiting),
        "next_inject": waiting[0] if waiting else None,
    }
