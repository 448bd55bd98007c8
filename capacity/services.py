"""Scenarios: save one and queue its run, run it (the worker), and write its results out."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging

from django.db import transaction
from django.db.models import F

from accounts import rules
from accounts.models import Clearance
from caisi_portal import background_jobs, clock
from caisi_portal.errors import NotPermitted
from submissions.models import SlaPolicy

from . import simulation
from .forms import LEVELS
from .models import Scenario

log = logging.getLogger(__name__)

MSG_NOT_PERMITTED = "Only the office's administrators plan its capacity."
# The policy's fields a simulated review depends on, copied into the scenario when it runs.
POLICY_FIELDS = [
    "intake_decision_days",
    "reviewer_assignment_days",
    "developer_answer_days",
    "information_pause_cap_days",
    "pause_cap_warning_days",
    "warning_days",
]
LEVEL_NAMES = {level: Clearance(level).label for level, _ in LEVELS}
# Longer than the run's hard time limit (tasks.run_scenario): a scenario "running" for longer
# has lost its worker, and one queued for longer has lost its message.
RUN_LIMIT = dt.timedelta(minutes=20)


def scenario_create(*, actor, name: str, inputs: dict) -> Scenario:
    """Save a scenario (ScenarioForm.inputs) and queue its run; the page shows its progress."""
    if not rules.may_plan_capacity(actor):
        raise NotPermitted(MSG_NOT_PERMITTED)
    now = clock.now()
    scenario = Scenario.objects.create(
        name=name,
        inputs=inputs,
        created_by=actor,
        created_at=now,
        queued_at=now,
        runs_total=len(inputs["headcounts"]) * inputs["replications"],
    )
    from .tasks import run_scenario

    transaction.on_commit(lambda: run_scenario.delay(scenario.pk))
    return scenario


def policy_snapshot(policy: SlaPolicy) -> dict:
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def policy_from(snapshot: dict) -> SlaPolicy:
    """The policy as it stood when the scenario ran: an unsaved row, read by the same arithmetic."""
    return SlaPolicy(**snapshot)


def reviewer_split(inputs: dict, headcount: int) -> dict[int, int]:
    shares = {level: inputs[f"reviewers_{suffix}"] for level, suffix in LEVELS}
    return simulation.headcount_split(headcount, shares)


def scenario_inputs(inputs: dict, headcount: int) -> simulation.Inputs:
    """A saved scenario's inputs, at one headcount, as the simulation takes them."""
    return simulation.Inputs(
        arrivals_per_month=tuple(inputs["arrivals"]),
        plans=tuple((tuple(domains), share) for domains, share in inputs["plans"]),
        work_days=dict(inputs["work_days"]),
        work_spread=inputs["work_spread"],
        intake_days=inputs["intake_days"],
        information_share=inputs["information_share"] / 100,
        answer_days=inputs["answer_days"],
        submission_clearance={level: inputs[f"needs_{suffix}"] for level, suffix in LEVELS},
        reviewers=reviewer_split(inputs, headcount),
        leave_days=inputs["leave_days"],
        window_days=inputs["window_days"],
    )


def scenario_run(scenario_id: int) -> Scenario | None:
    """Simulate every headcount of the scenario, recording progress after each.

    A run redelivered after its worker died starts again (the same seeds give the same answer);
    a message for a scenario finished, or being run by another worker, does nothing.
    """
    scenario = Scenario.objects.filter(pk=scenario_id).first()
    if scenario is None or scenario.finished:
        return scenario
    rows = Scenario.objects.filter(pk=scenario.pk)
    snapshot = policy_snapshot(SlaPolicy.current())
    if not background_jobs.job_claim(
        rows, now=clock.now(), stale_after=RUN_LIMIT, runs_done=0, policy=snapshot, error=""
    ):
        return scenario
    inputs = scenario.inputs
    try:
        points = []
        for headcount in inputs["headcounts"]:
            reps = simulation.replicate(
                scenario_inputs(inputs, headcount),
                policy_from(snapshot),
                replications=inputs["replications"],
                seed=inputs["seed"],
            )
            split = reviewer_split(inputs, headcount)
            points.append(
                {
                    "headcount": headcount,
                    "reviewers": {LEVEL_NAMES[level]: n for level, n in split.items()},
                    **simulation.summarise(reps),
                }
            )
            rows.update(runs_done=F("runs_done") + len(reps))
        results = {
            "points": points,
            "recommended": recommended_headcount(points, inputs["target"]),
            "target": inputs["target"],
            "headcount": inputs["headcount"],
        }
    except Exception as exc:
        log.exception("capacity scenario %s failed", scenario.pk)
        rows.update(
            status=Scenario.Status.FAILED,
            finished_at=clock.now(),
            error=f"The simulation stopped ({exc.__class__.__name__}). Start it again; if it fails again, tell "
            "the portal's operators.",
        )
    else:
        rows.update(status=Scenario.Status.DONE, results=results, finished_at=clock.now())
    scenario.refresh_from_db()
    return scenario


def scenarios_requeue_stalled(now) -> list[int]:
    """Send again the scenarios whose message was lost (the sweep, every few minutes)."""
    from .tasks import run_scenario

    return background_jobs.jobs_requeue_stalled(
        Scenario, now=now, stale_after=RUN_LIMIT, send=lambda pk: run_scenario.delay(pk)
    )


def recommended_headcount(points: list[dict], target_percent: float) -> int | None:
    """The smallest headcount from which every larger one tried keeps the windows elapsed (the
    30-day promise broken) at or under the target, on the upper 95 % bound: a recommendation
    that one lucky replication cannot make."""
    best = None
    for point in sorted(points, key=lambda p: -p["headcount"]):
        if point["breach_probability"]["determination"]["high"] * 100 <= target_percent:
            best = point["headcount"]
        else:
            break
    return best


def point_at(scenario: Scenario, headcount: int | None = None) -> dict | None:
    """The results at one headcount (the scenario's own unless named)."""
    wanted = scenario.inputs.get("headcount") if headcount is None else headcount
    return next((p for p in scenario.results.get("points", []) if p["headcount"] == wanted), None)


# --- downloads -------------------------------------------------------------------------------


def _ci(prefix: str, ci: dict, scale: float = 1) -> dict:
    return {f"{prefix}": round(ci["mean"] * scale, 4), f"{prefix}_low": round(ci["low"] * scale, 4),
            f"{prefix}_high": round(ci["high"] * scale, 4)}  # fmt: skip


def headcount_rows(scenario: Scenario) -> list[dict]:
    """One row per headcount tried: breach probabilities (out of 100 submissions), windows
    elapsed, utilisation (out of 100) and the mean weekly queue, with their 95 % bounds."""
    rows = []
    for p in scenario.results.get("points", []):
        row = {"headcount": p["headcount"], **{f"reviewers_{k.lower()}": n for k, n in p["reviewers"].items()}}
        for kind in simulation.KINDS:
            row |= _ci(f"breach_{kind}_percent", p["breach_probability"][str(kind)], 100)
        row |= _ci("windows_elapsed", p["windows_elapsed"])
        row |= _ci("utilisation_percent", p["utilisation"], 100)
        queue = [w["mean"] for w in p["queue_by_week"]]
        row["mean_queue"] = round(sum(queue) / len(queue), 2) if queue else 0
        rows.append(row)
    return rows


def week_rows(scenario: Scenario) -> list[dict]:
    """The scenario's own headcount, week by week: submissions waiting for a reviewer."""
    point = point_at(scenario)
    if point is None:
        return []
    return [{"week": i + 1, **_ci("queue", ci)} for i, ci in enumerate(point["queue_by_week"])]


def rows_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def scenario_document(scenario: Scenario) -> dict:
    """The scenario as JSON: what was asked, under which policy, and every figure."""
    return {
        "id": scenario.pk,
        "name": scenario.name,
        "status": scenario.status,
        "created_at": scenario.created_at.isoformat(),
        "finished_at": scenario.finished_at.isoformat() if scenario.finished_at else None,
        "inputs": scenario.inputs,
        "policy": scenario.policy,
        "results": scenario.results,
    }
