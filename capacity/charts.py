"""A scenario's figures as the dashboard's charts take them (templates/dashboard/_chart.html,
drawn by static/js/charts.js): labels, series with their tones, and the same figures row by row
for the table under each chart. The tables give each figure with its 95 % interval."""

from __future__ import annotations

from submissions.models import SlaKind

from . import simulation
from .models import Scenario
from .services import point_at

TONES = {SlaKind.DETERMINATION: "bad", SlaKind.REVIEWER_ASSIGNMENT: "warn", SlaKind.INTAKE_DECISION: "neutral"}
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _percent(ci: dict) -> float:
    return round(100 * ci["mean"], 1)


def percent_text(ci: dict) -> str:
    """'4.2 % (3.1 to 5.3)': the mean and its 95 % interval, out of 100."""
    return f"{100 * ci['mean']:.1f} % ({100 * max(ci['low'], 0):.1f} to {100 * min(ci['high'], 1):.1f})"


def number_text(ci: dict) -> str:
    return f"{ci['mean']:.1f} ({max(ci['low'], 0):.1f} to {ci['high']:.1f})"


def _with_rows(chart: dict, texts: list[list]) -> dict:
    chart["rows"] = [
        [label, [(s["name"], texts[j][i]) for j, s in enumerate(chart["series"])]]
        for i, label in enumerate(chart["labels"])
    ]
    return chart


def scenario_charts(scenario: Scenario) -> dict:
    """Breach probability against headcount; the queue over the year and utilisation by month at
    the scenario's headcount; and the figures at that headcount. Empty until the run is done."""
    if scenario.status != Scenario.Status.DONE:
        return {}
    points = scenario.results["points"]
    labels = [p["headcount"] for p in points]
    series, texts = [], []
    for kind in simulation.KINDS:
        cis = [p["breach_probability"][str(kind)] for p in points]
        series.append({"name": SlaKind(kind).label, "tone": TONES.get(kind, ""), "values": [_percent(c) for c in cis]})
        texts.append([percent_text(c) for c in cis])
    target = scenario.results["target"]
    series.append({"name": "Target (windows elapsed)", "tone": "bad-dark", "values": [target] * len(labels)})
    texts.append([f"{target:g} %"] * len(labels))
    breach_chart = _with_rows({"labels": labels, "series": series}, texts)

    own = point_at(scenario)
    queue = own["queue_by_week"]
    queue_chart = _with_rows(
        {
            "labels": [f"Week {i + 1}" for i in range(len(queue))],
            "series": [
                {
                    "name": "Waiting for a reviewer (mean)",
                    "tone": "neutral",
                    "values": [round(c["mean"], 1) for c in queue],
                },
                {"name": "Upper 95 % bound", "tone": "warn", "values": [round(c["high"], 1) for c in queue]},
            ],
        },
        [[number_text(c) for c in queue], [f"{c['high']:.1f}" for c in queue]],
    )
    busy = own["utilisation_by_month"]
    utilisation_chart = _with_rows(
        {
            "labels": MONTHS,
            "series": [
                {"name": "Reviewers' time on reviews", "tone": "neutral", "values": [_percent(c) for c in busy]}
            ],
        },
        [[percent_text(c) for c in busy]],
    )
    return {
        "breach_chart": breach_chart,
        "queue_chart": queue_chart,
        "utilisation_chart": utilisation_chart,
        "own": own,
        "own_breaches": [(SlaKind(k).label, percent_text(own["breach_probability"][str(k)])) for k in simulation.KINDS],
        "own_elapsed": number_text(own["windows_elapsed"]),
        "own_utilisation": percent_text(own["utilisation"]),
        "own_returned": number_text(own["returned"]),
        "own_submissions": number_text(own["submissions"]),
    }


def comparison(scenarios: list[Scenario]) -> dict:
    """Scenarios side by side: a row per question and per answer, a column per scenario, and
    their windows-elapsed curves on one chart."""
    own = [point_at(s) for s in scenarios]
    rows = [
        ("Submissions per year", [f"{sum(s.inputs['arrivals']):g}" for s in scenarios]),
        ("Reviewers (headcount)", [str(s.inputs["headcount"]) for s in scenarios]),
        ("Headcounts tried", [f"{s.inputs['headcount_min']} to {s.inputs['headcount_max']}" for s in scenarios]),
        ("Asked for information (out of 100)", [str(s.inputs["information_share"]) for s in scenarios]),
        ("Leave per reviewer (days)", [f"{s.inputs['leave_days']:g}" for s in scenarios]),
        ("Replications", [str(s.inputs["replications"]) for s in scenarios]),
        ("Target: windows elapsed (out of 100)", [f"{s.inputs['target']:g}" for s in scenarios]),
        ("Recommended headcount", [_recommended(s) for s in scenarios]),
    ]
    for kind in simulation.KINDS:
        rows.append(
            (f"{SlaKind(kind).label}: breached", [percent_text(p["breach_probability"][str(kind)]) for p in own])
        )
    rows += [
        ("Windows elapsed per year", [number_text(p["windows_elapsed"]) for p in own]),
        ("Reviewers' time on reviews", [percent_text(p["utilisation"]) for p in own]),
    ]
    labels = sorted({p["headcount"] for s in scenarios for p in s.results["points"]})
    series, texts = [], []
    for s in scenarios:
        by_count = {p["headcount"]: p["breach_probability"][str(SlaKind.DETERMINATION)] for p in s.results["points"]}
        series.append({"name": s.name, "values": [_percent(by_count[n]) if n in by_count else None for n in labels]})
        texts.append([percent_text(by_count[n]) if n in by_count else None for n in labels])
    chart = _with_rows({"labels": labels, "series": series}, texts)
    return {"scenarios": scenarios, "rows": rows, "chart": chart}


def _recommended(scenario: Scenario) -> str:
    n = scenario.results.get("recommended")
    return str(n) if n is not None else "none in the range tried"
