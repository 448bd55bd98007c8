"""The After-Action Report and Improvement Plan (AAR/IP), built from what happened.

One dictionary feeds the page, the JSON download and the PDF: objectives with whether
each was met (from the evaluators' observations), the timeline of injects and player
actions in simulated time, review-clock performance, the observations, and the plan.
"""

from __future__ import annotations

from django.db.models import Prefetch

from caisi_portal import timefmt
from caisi_portal.words import counted, speed_in_words
from submissions.models import AuditEntry, ModelSubmission, ReviewClock, SlaBreach, SlaKind, SlaObligation, State

from .models import Exercise

DETERMINED = (State.CLEARED, State.FLAGGED)
STATE_LABELS = dict(State.choices)
TIMELINE_KINDS = {
    "inject": "Inject",
    "action": "Player action",
    "clock": "Review clock",
    "observation": "Observation",
}
DEADLINE_OUTCOMES = {True: "met", False: "missed", None: "not due"}


# The report dictionary is also the JSON download: its moments stay ISO 8601 (UTC) for
# machines; the page and the PDF write them for people with caisi_portal.timefmt.
def _when(exercise: Exercise, at) -> dict:
    return {"simulated": at.isoformat(), "day": exercise.day_and_hour(at)} if at else None


def objective_outcome(observations, from_data: bool | None = None) -> str:
    """From the evaluators' verdicts and, where the scenario ties the objective to a service
    level (``sla:`` in its YAML), from what the review clocks recorded."""
    verdicts = [o.met for o in observations if o.met is not None]
    if from_data is not None:
        verdicts.append(from_data)
    if not verdicts:
        return "not evaluated"
    return "met" if all(verdicts) else "partly met" if any(verdicts) else "not met"


def _deadline_met(clock, determined, breached: bool) -> bool | None:
    """Was the review's determination deadline met? None while it is not yet due (or moot)."""
    if clock is None:
        return None
    if determined is not None:
        return determined <= clock.deadline_at
    if breached or clock.status == ReviewClock.Status.ELAPSED:
        return False  # the window elapsed without a determination: that is a missed deadline
    return None


def _objective_slas(exercise: Exercise) -> dict[str, str]:
    """objective key -> the service level it is scored on (the scenario's ``sla:``). An
    exercise started before objectives carried one reads it from its scenario file."""
    slas = {o.get("key"): o.get("sla") for o in exercise.scenario.get("objectives", []) if o.get("sla")}
    if not slas:
        from . import scenarios

        try:
            data = scenarios.by_slug(exercise.scenario_slug).data
        except scenarios.ScenarioError:
            return {}
        slas = {o.get("key"): o.get("sla") for o in data.get("objectives", []) if o.get("sla")}
    return slas


def _sla_evidence(exercise: Exercise, kind: str, clocks: list[dict]) -> tuple[bool | None, str]:
    """Whether one service level was kept in this exercise, and the facts that say so."""
    label = SlaKind(kind).label.lower()
    if kind == SlaKind.DETERMINATION:
        met = [c for c in clocks if c["deadline_met"] is True]
        missed = [c for c in clocks if c["deadline_met"] is False]
    else:
        obligations = SlaObligation.objects.filter(submission__exercise=exercise, kind=kind).select_related(
            "submission"
        )
        missed = [o for o in obligations if o.breached_at is not None]
        met = [o for o in obligations if o.closed_at is not None and o.breached_at is None]
    if missed:
        return False, f"From the review clock: {counted(len(missed), 'deadline')} missed ({label})."
    if met:
        return True, f"From the review clock: {counted(len(met), 'deadline')} met ({label})."
    return None, ""


def after_action_report(exercise: Exercise) -> dict:
    observations = list(exercise.observations.select_related("objective", "evaluator"))

    timeline = []
    for inject in exercise.injects.select_related("fired_by", "objective"):
        if inject.fired_at:
            timeline.append(
                {
                    "at": _when(exercise, inject.fired_at),
                    "kind": "inject",
                    "what": f"Inject {inject.number}: {inject.subject}",
                    "who": inject.sender + (f" (fired by hand by {inject.fired_by})" if inject.fired_by else ""),
                    "to": inject.recipients,
                    "expected": inject.expected_action,
                }
            )
    actions = (
        AuditEntry.objects.filter(submission__exercise=exercise)
        .select_related("submission", "actor")
        .order_by("at", "pk")
    )
    for entry in actions:
        timeline.append(
            {
                "at": _when(exercise, entry.at),
                "kind": "action" if entry.actor_id else "clock",
                "what": f"{entry.label}: {entry.submission.model_name} {entry.submission.model_version}"
                + (
                    f" ({STATE_LABELS.get(entry.from_state, entry.from_state)} → "
                    f"{STATE_LABELS.get(entry.to_state, entry.to_state)})"
                    if entry.from_state and entry.to_state
                    else ""
                ),
                "who": entry.actor.first_name or entry.actor.username if entry.actor_id else "Review clock",
            }
        )
    for o in observations:
        timeline.append(
            {
                "at": _when(exercise, o.sim_at),
                "kind": "observation",
                "what": f"Observation on {o.objective.key}: {o.text}",
                "who": str(o.evaluator),
            }
        )
    timeline.sort(key=lambda row: row["at"]["simulated"])
    for row in timeline:
        row["kind_label"] = TIMELINE_KINDS[row["kind"]]

    submissions = (
        ModelSubmission.objects.filter(exercise=exercise)
        .prefetch_related("review_clock", Prefetch("sla_breaches", queryset=SlaBreach.objects.order_by("detected_at")))
        .select_related("organization")
    )
    clocks = []
    for s in submissions:
        clock = getattr(s, "review_clock", None)
        determined = (
            AuditEntry.objects.filter(submission=s, to_state__in=DETERMINED).order_by("at").values_list("at", flat=True)
        ).first()
        breaches = list(s.sla_breaches.all())
        met = _deadline_met(clock, determined, any(b.kind == SlaKind.DETERMINATION for b in breaches))
        clocks.append(
            {
                "submission": f"{s.model_name} {s.model_version}",
                "organization": s.organization.name,
                "release_channel": s.get_release_channel_display(),
                "state": s.get_state_display(),
                "deadline": _when(exercise, clock.deadline_at) if clock else None,
                "determined": _when(exercise, determined),
                "deadline_met": met,
                "deadline_outcome": DEADLINE_OUTCOMES[met],
                "breaches": [
                    {
                        "kind": b.get_kind_display(),
                        "due": _when(exercise, b.due_at),
                        "detected": _when(exercise, b.detected_at),
                    }
                    for b in breaches
                ],
            }
        )

    sla_of = _objective_slas(exercise)
    objectives = []
    for objective in exercise.objectives.all():
        mine = [o for o in observations if o.objective_id == objective.pk]
        from_data, evidence = None, ""
        if sla_of.get(objective.key) in SlaKind.values:
            from_data, evidence = _sla_evidence(exercise, sla_of[objective.key], clocks)
        objectives.append(
            {
                "key": objective.key,
                "text": objective.text,
                "outcome": objective_outcome(mine, from_data),
                "evidence": evidence,
                "observations": len(mine),
                "injects": list(objective.injects.values_list("number", flat=True)),
            }
        )

    return {
        "exercise": {
            "id": exercise.pk,
            "name": exercise.name,
            "scenario": exercise.scenario_slug,
            "scenario_title": exercise.scenario.get("name", exercise.name),
            "summary": exercise.scenario.get("summary", ""),
            "status": exercise.status,
            "simulated_start": exercise.sim_start.isoformat(),
            "simulated_end": (exercise.sim_ended_at or exercise.simulated_now()).isoformat(),
            "speed": exercise.speed,
            "speed_words": speed_in_words(exercise.speed),
            "marking": "EXERCISE - simulated data, not a real review",
        },
        "objectives": objectives,
        "timeline": timeline,
        "review_clocks": clocks,
        "deadlines": {
            "met": sum(1 for c in clocks if c["deadline_met"]),
            "missed": sum(1 for c in clocks if c["deadline_met"] is False),
            "breaches": sum(len(c["breaches"]) for c in clocks),
        },
        "observations": [
            {
                "objective": o.objective.key,
                "evaluator": str(o.evaluator),
                "text": o.text,
                "met": o.met,
                "simulated": o.sim_at.isoformat(),
                "real": o.wall_at.isoformat(),
            }
            for o in observations
        ],
        "improvement_plan": [
            {
                "issue": i.issue,
                "corrective_action": i.corrective_action,
                "owner": i.owner,
                "due": i.due_on.isoformat(),
                "objective": i.objective.key if i.objective_id else None,
            }
            for i in exercise.improvements.select_related("objective")
        ],
    }


def deadlines_sentence(deadlines: dict) -> str:
    """'1 determination deadline met, 1 missed; 2 SLA breaches.'"""
    return (
        f"{counted(deadlines['met'] + deadlines['missed'], 'determination deadline')} due: "
        f"{deadlines['met']} met, {deadlines['missed']} missed. "
        f"{counted(deadlines['breaches'], 'SLA breach', 'SLA breaches')} in all."
    )


def pdf_bytes(report: dict) -> bytes:
    """The same report as a PDF (fpdf2, core fonts: text is kept to Latin-1)."""
    from fpdf import FPDF

    def text(value) -> str:
        return str(value).encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(0, 6, text(report["exercise"]["marking"]), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 8, text(f"After-Action Report: {report['exercise']['name']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    ex = report["exercise"]
    span = f"{timefmt.when(ex['simulated_start'])} to {timefmt.when(ex['simulated_end'])}"
    pdf.multi_cell(
        0, 5, text(f"Scenario: {ex['scenario_title']}. Simulated {span}."),
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    if ex["summary"]:
        pdf.multi_cell(0, 5, text(ex["summary"]), new_x="LMARGIN", new_y="NEXT")

    def heading(title):
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 7, text(title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 9)

    def table(headers, rows, widths):
        with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.5) as t:
            row = t.row()
            for h in headers:
                row.cell(text(h))
            for values in rows:
                row = t.row()
                for v in values:
                    row.cell(text(v if v is not None else ""))

    heading("Objectives")
    table(
        ["Objective", "Outcome", "Observations"],
        [
            [o["text"], " ".join(filter(None, [o["outcome"], o["evidence"]])), o["observations"]]
            for o in report["objectives"]
        ],
        (70, 15, 15),
    )
    heading("Review-clock performance")
    d = report["deadlines"]
    pdf.multi_cell(
        0,
        5,
        text(deadlines_sentence(d)),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    table(
        ["Submission", "State", "Deadline", "Determined", "Breaches"],
        [
            [
                c["submission"],
                c["state"],
                c["deadline"]["day"] if c["deadline"] else "",
                c["determined"]["day"] if c["determined"] else "",
                ", ".join(b["kind"] for b in c["breaches"]),
            ]
            for c in report["review_clocks"]
        ],
        (30, 20, 18, 18, 40),
    )
    heading("Timeline (simulated time)")
    table(
        ["When", "What", "Who"],
        [[r["at"]["day"], f"{r['kind_label']}: {r['what']}", r["who"]] for r in report["timeline"]],
        (18, 62, 25),
    )
    heading("Evaluators' observations")
    table(
        ["Objective", "Observation", "Met", "Evaluator"],
        [
            [o["objective"], o["text"], {True: "yes", False: "no", None: "-"}[o["met"]], o["evaluator"]]
            for o in report["observations"]
        ],
        (20, 55, 8, 20),
    )
    heading("Improvement plan")
    table(
        ["Issue", "Corrective action", "Owner", "Due"],
        [[i["issue"], i["corrective_action"], i["owner"], timefmt.day(i["due"])] for i in report["improvement_plan"]],
        (35, 40, 15, 12),
    )
    return bytes(pdf.output())
