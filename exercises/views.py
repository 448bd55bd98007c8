"""Pages for controllers, evaluators and players. Thin: parse, call a service, render."""

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from accounts import rules
from caisi_portal.errors import ApplicationError
from caisi_portal.web import add_service_error
from caisi_portal.words import speed_in_words

from . import report, scenarios, services
from .forms import ClockForm, ImprovementForm, ObservationForm, StartForm, speed_choices
from .models import Exercise, ImprovementItem, Inject, Message


def _exercise(request, pk) -> Exercise:
    # Someone with no part in an exercise is told it does not exist.
    return get_object_or_404(rules.scope_exercises(Exercise.objects.all(), request.user), pk=pk)


def _runs(request, exercise):
    if not rules.may_run_exercise(request.user, exercise):
        raise PermissionDenied("Only this exercise's controllers can do that.")


@login_required
@require_safe
def exercise_list(request):
    exercises = rules.scope_exercises(Exercise.objects.all(), request.user)
    may_start = rules.may_create_exercise(request.user)
    if not (may_start or exercises.exists()):
        raise Http404
    form = StartForm(scenarios=scenarios.available()) if may_start else None
    return render(request, "exercises/list.html", {"exercises": exercises, "form": form})


@login_required
@require_POST
def exercise_start(request):
    if not rules.may_create_exercise(request.user):
        raise Http404
    form = StartForm(request.POST, scenarios=scenarios.available())
    if form.is_valid():
        try:
            sheet = services.exercise_create(
                scenario=scenarios.by_slug(form.cleaned_data["scenario"]),
                actor=request.user,
                speed=form.cleaned_data["speed"],
                start_token=form.cleaned_data["start_token"],
            )
            if form.cleaned_data["run"]:
                services.exercise_start(exercise=sheet.exercise, actor=request.user)
        except services.ExerciseAlreadyStarted as exc:
            messages.info(request, exc.message)
            return redirect(exc.exercise)
        except (ApplicationError, scenarios.ScenarioError) as exc:
            form.add_error(None, getattr(exc, "message", str(exc)))
        else:
            # Shown once: only the password hashes are kept.
            return render(request, "exercises/sign_in_sheet.html", {"sheet": sheet})
    return render(
        request,
        "exercises/list.html",
        {"exercises": rules.scope_exercises(Exercise.objects.all(), request.user), "form": form},
        status=400,
    )


@login_required
@require_safe
def console(request, pk):
    exercise = _exercise(request, pk)
    status = services.exercise_progress(exercise)
    if request.headers.get("HX-Request"):
        # The status panel alone: htmx asks every 2 s while the exercise runs.
        return render(request, "exercises/_console_status.html", status)
    return render(
        request,
        "exercises/console.html",
        {
            **status,
            "may_run": rules.may_run_exercise(request.user, exercise),
            "injects": exercise.injects.select_related("objective", "fired_by"),
            "players": exercise.participants.filter(role="player").select_related("user"),
            "injects_waiting": exercise.injects.filter(fired_at__isnull=True).count(),
            "clock_form": ClockForm(initial={"speed": exercise.speed}),
            "speed_choices": speed_choices(exercise.speed),
            "current_speed": f"{exercise.speed:g}",
            "observation_form": ObservationForm(exercise=exercise),
            "observations": exercise.observations.select_related("objective", "evaluator"),
        },
    )


MSG_CONFIRM_END = "Tick the box to confirm: ending the exercise cannot be undone."


@login_required
@require_POST
def clock(request, pk):
    exercise = _exercise(request, pk)
    _runs(request, exercise)
    # The jump time is read in the controller's own time zone, the one the console shows
    # (the browser's datetime-local field sends it without a zone).
    form = ClockForm(request.POST)
    valid = form.is_valid()
    if not valid:
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
        return redirect(exercise)
    action, data = form.cleaned_data["action"], form.cleaned_data
    try:
        if action == "start":
            services.exercise_start(exercise=exercise, actor=request.user)
        elif action == "pause":
            services.exercise_pause(exercise=exercise, actor=request.user)
        elif action == "speed":
            services.exercise_set_speed(exercise=exercise, actor=request.user, speed=data["speed"])
        elif action == "jump":
            if data["to"] is None:
                messages.error(request, "Give the simulated time to jump to.")
                return redirect(exercise)
            services.exercise_jump(exercise=exercise, actor=request.user, to=data["to"])
        else:
            if not data["confirm_end"]:
                messages.error(request, MSG_CONFIRM_END)
                return redirect(exercise)
            services.exercise_end(exercise=exercise, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        exercise.refresh_from_db()
        messages.success(request, _clock_done(action, exercise))
    return redirect(exercise)


def _clock_done(action: str, exercise: Exercise) -> str:
    """What a controller's clock action did, in words."""
    if action == "start":
        return f"The simulated clock is running: {speed_in_words(exercise.speed)}."
    if action == "pause":
        return "The simulated clock is paused: no time passes and no inject fires until you resume."
    if action == "speed":
        return f"Speed changed: {speed_in_words(exercise.speed)}."
    if action == "jump":
        return f"Simulated time moved forward to {exercise.day_and_hour(exercise.simulated_now())}."
    return "The exercise has ended: its accounts no longer sign in, and the after-action report is final."


@login_required
@require_POST
def fire(request, pk, inject_pk):
    exercise = _exercise(request, pk)
    _runs(request, exercise)
    inject = get_object_or_404(Inject, pk=inject_pk, exercise=exercise)
    if services.inject_fire(inject=inject, sim_now=exercise.simulated_now(), actor=request.user):
        messages.success(request, f"Inject {inject.number} delivered.")
    elif exercise.status == Exercise.Status.ENDED:
        messages.error(request, f"The exercise has ended: inject {inject.number} can no longer be delivered.")
    else:
        messages.error(request, f"Inject {inject.number} had already been delivered.")
    return redirect(exercise)


@login_required
@require_POST
def observe(request, pk):
    exercise = _exercise(request, pk)
    form = ObservationForm(request.POST, exercise=exercise)
    if form.is_valid():
        try:
            services.observation_record(exercise=exercise, actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, "Observation recorded.")
            return redirect(exercise)
    return render(
        request, "exercises/form.html", {"ex": exercise, "form": form, "title": "Record an observation"}, status=400
    )


@login_required
@require_POST
def improve(request, pk):
    exercise = _exercise(request, pk)
    _runs(request, exercise)
    form = ImprovementForm(request.POST, exercise=exercise)
    if form.is_valid():
        ImprovementItem.objects.create(exercise=exercise, recorded_by=request.user, **form.cleaned_data)
        messages.success(request, "Added to the improvement plan.")
        return redirect("exercises:report", pk=exercise.pk)
    return render(
        request, "exercises/form.html", {"ex": exercise, "form": form, "title": "Improvement plan item"}, status=400
    )


@login_required
@require_POST
def player_password(request, pk, user_pk):
    exercise = _exercise(request, pk)
    player = get_object_or_404(get_user_model(), pk=user_pk, exercise=exercise)
    try:
        password = services.player_password_reset(exercise=exercise, actor=request.user, player=player)
    except ApplicationError as exc:
        raise PermissionDenied(exc.message) from exc
    return render(
        request,
        "exercises/sign_in_sheet.html",
        {"sheet": {"exercise": exercise, "passwords": {player.username: password}}},
    )


@login_required
@require_safe
def aar(request, pk):
    exercise = _exercise(request, pk)
    data = report.after_action_report(exercise)
    return render(
        request,
        "exercises/report.html",
        {
            "ex": exercise,
            "report": data,
            "deadlines_sentence": report.deadlines_sentence(data["deadlines"]),
            "may_run": rules.may_run_exercise(request.user, exercise),
            "improvement_form": ImprovementForm(exercise=exercise),
        },
    )


@login_required
@require_safe
def aar_json(request, pk):
    exercise = _exercise(request, pk)
    body = json.dumps(report.after_action_report(exercise), indent=2)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="aar-exercise-{exercise.pk}.json"'
    return response


@login_required
@require_safe
def aar_pdf(request, pk):
    exercise = _exercise(request, pk)
    response = HttpResponse(report.pdf_bytes(report.after_action_report(exercise)), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="aar-exercise-{exercise.pk}.pdf"'
    return response


@login_required
@require_safe
def inbox(request):
    """A player's messages from the exercise (injects sent to them or their role)."""
    if not rules.may_read_exercise_inbox(request.user):
        raise Http404
    rows = list(Message.objects.filter(recipient=request.user).select_related("inject"))
    Message.objects.filter(recipient=request.user, read_at__isnull=True).update(read_at=timezone.now())
    return render(request, "exercises/inbox.html", {"rows": rows})
