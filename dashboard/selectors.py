"""What the administrators' dashboard reads. Each figure is one aggregate query.

Everything here counts one world's work: the live office's for live administrators, one
exercise's for a player who plays its administrator (accounts.rules.world_of). Every query
is a GROUP BY or COUNT over an indexed column, so a page costs the same number of queries
at 10 submissions as at 100,000.
"""

from __future__ import annotations

import datetime as dt
import statistics

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Func
from django.db.models.functions import TruncMonth

from accounts import rules
from accounts.roles import Role
from reviews.models import Assignment, Determination
from submissions.models import (
    OPEN_REVIEW_STATES,
    Agreement,
    ClockPause,
    ModelSubmission,
    Organization,
    ReviewClock,
    SlaBreach,
    SlaKind,
    State,
)

AT_RISK = dt.timedelta(days=7)
# How each series is drawn (static/js/charts.js maps a tone to a colour): a miss is never
# green, and every series is named in its legend, so colour is never the only signal.
BREACH_TONES = {
    SlaKind.INTAKE_DECISION: "warn",
    SlaKind.REVIEWER_ASSIGNMENT: "warn-dark",
    SlaKind.DEVELOPER_ANSWER: "bad-dark",
    SlaKind.DETERMINATION: "bad",
}
CACHE_SECONDS = 60


def world_submissions(world):
    if world is rules.LIVE:
        return ModelSubmission.objects.filter(is_exercise=False)  # on the live partial indexes
    return ModelSubmission.objects.filter(exercise_id=world)


def of_world(qs, world, field: str = "submission"):
    """Only one world's rows of a queryset of rows that belong to a submission."""
    return rules.in_world_of_submission(qs, world, field)


def month_starts(now: dt.datetime, months: int = 12) -> list[dt.date]:
    first = now.date().replace(day=1)
    out = []
    for _ in range(months):
        out.append(first)
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return list(reversed(out))


def _month_key(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


# --- headline figures -----------------------------------------------------------------------------


def headline(now: dt.datetime, world=rules.LIVE) -> dict:
    """Live counts, each on its own index; the 12-month figures come from trends()."""
    by_state = dict(
        world_submissions(world)
        .filter(state__in=OPEN_REVIEW_STATES)
        .values_list("state")
        .annotate(n=Count("*"))  # count(*), not count(id): answered from the index alone
        .values_list("state", "n")
    )
    at_risk = of_world(
        ReviewClock.objects.filter(status=ReviewClock.Status.RUNNING, deadline_at__lte=now + AT_RISK), world
    ).count()
    paused = of_world(ReviewClock.objects.filter(status=ReviewClock.Status.PAUSED), world).count()
    breaches_open = of_world(SlaBreach.objects.filter(acknowledged_at__isnull=True), world).count()
    breaches_all = of_world(SlaBreach.objects.all(), world).count()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    determined_this_month = of_world(Determination.objects.filter(issued_at__gte=month_start), world).count()
    return {
        "open_by_state": [(State(s).label, by_state.get(s, 0)) for s in OPEN_REVIEW_STATES],
        "open_total": sum(by_state.values()),
        "at_risk": at_risk,
        "paused": paused,
        "breaches_open": breaches_open,
        "breaches_acknowledged": breaches_all - breaches_open,
        "determined_this_month": determined_this_month,
    }


class _EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"


def days_to_determination(since: dt.datetime, world=rules.LIVE) -> tuple[float | None, float | None]:
    """Median and 90th percentile of days from submission to determination."""
    determinations = of_world(
        Determination.objects.filter(issued_at__gte=since, submission__submitted_at__isnull=False), world
    )
    if connection.vendor == "postgresql":
        # Computed in the database: at 100,000 reviews, fetching every duration would not be.
        seconds = _EpochSeconds(F("issued_at") - F("submission__submitted_at"))
        sql_qs = determinations.annotate(seconds=seconds).values("seconds")
        sql, params = sql_qs.query.sql_with_params()
        with connection.cursor() as cursor:
            # The inner SQL is the ORM's own; its values stay parameters.
            percentiles = ", ".join(f"percentile_cont({q}) WITHIN GROUP (ORDER BY seconds)" for q in (0.5, 0.9))
            cursor.execute(f"SELECT {percentiles} FROM ({sql}) AS durations", params)  # noqa: S608
            median, p90 = cursor.fetchone()
        return (None, None) if median is None else (round(median / 86400, 2), round(p90 / 86400, 2))
    days = sorted(
        (issued - submitted).total_seconds() / 86400
        for issued, submitted in determinations.values_list("issued_at", "submission__submitted_at")
    )
    if not days:
        return None, None
    p90 = statistics.quantiles(days, n=10, method="inclusive")[-1] if len(days) > 1 else days[0]
    return round(statistics.median(days), 2), round(p90, 2)


def clocks_at_risk(now: dt.datetime, limit: int = 10, world=rules.LIVE):
    return list(
        of_world(ReviewClock.objects.filter(status=ReviewClock.Status.RUNNING, deadline_at__lte=now + AT_RISK), world)
        .select_related("submission__organization")
        .order_by("deadline_at")[:limit]
    )


def paused_clocks(now: dt.datetime, limit: int = 10, world=rules.LIVE):
    """The longest-paused clocks, oldest pause first (index: pause_open)."""
    pauses = (
        of_world(ClockPause.objects.filter(ended_at__isnull=True), world, "clock__submission")
        .select_related("clock__submission__organization")
        .order_by("started_at")[:limit]
    )
    return [(p.clock, now - p.started_at) for p in pauses]


# --- agreements and workload ------------------------------------------------------------------------


def agreement_status(now: dt.datetime, world=rules.LIVE):
    rows = []
    agreements = rules.in_world(
        Agreement.objects.filter(organization__kind=Organization.Kind.DEVELOPER), world, "organization__exercise"
    ).select_related("organization")
    for a in agreements:
        rows.append(
            {"agreement": a, "holdout": a.status != Agreement.Status.SIGNED, "days": a.negotiating_days(now.date())}
        )
    return rows


def reviewer_workload(now: dt.datetime, world=rules.LIVE) -> list[dict]:
    """Open assignments per reviewer, with how many are at risk and how many breached."""
    open_assignments = of_world(Assignment.objects.filter(submission__state__in=OPEN_REVIEW_STATES), world)

    def per_reviewer(qs):
        return dict(qs.values_list("reviewer").annotate(n=Count("pk")).values_list("reviewer", "n"))

    total = per_reviewer(open_assignments)
    at_risk = per_reviewer(
        open_assignments.filter(
            submission__review_clock__status=ReviewClock.Status.RUNNING,
            submission__review_clock__deadline_at__lte=now + AT_RISK,
        )
    )
    breached = per_reviewer(
        open_assignments.filter(
            submission__in=SlaBreach.objects.filter(acknowledged_at__isnull=True).values("submission_id")
        )
    )
    reviewers = (
        get_user_model()
        .objects.filter(groups__name__in=[Role.REVIEWER, Role.LEAD_REVIEWER], is_active=True, exercise_id=world)
        .distinct()
        .only("pk", "username", "first_name", "last_name")
    )
    rows = [
        {"name": str(r), "open": total.get(r.pk, 0), "at_risk": at_risk.get(r.pk, 0), "overdue": breached.get(r.pk, 0)}
        for r in reviewers
    ]
    return sorted(rows, key=lambda row: (-row["open"], row["name"]))


# --- chart series (cached for a minute) ---------------------------------------------------------------


def trends(now: dt.datetime, world=rules.LIVE) -> dict:
    """The 12-month figures: chart series, percentiles, workload. Cached for a minute,
    because at 100,000 reviews they cost more than a page view should, and a minute
    old is fresh enough for trends."""
    key = f"dashboard-trends-{world or 'live'}-{now:%Y%m%d%H%M}"
    data = cache.get(key)
    if data is None:
        median, p90 = days_to_determination(now - dt.timedelta(days=365), world)
        data = {
            **_charts(now, world),
            "median_days": median,
            "p90_days": p90,
            "workload": reviewer_workload(now, world),
        }
        cache.set(key, data, CACHE_SECONDS)
    return data


def _charts(now: dt.datetime, world) -> dict:
    months = month_starts(now)
    since = dt.datetime.combine(months[0], dt.time(), tzinfo=dt.UTC)
    labels = [m.strftime("%b %Y") for m in months]

    def by_month(qs, field, extra=()):
        rows = qs.filter(**{f"{field}__gte": since}).annotate(month=TruncMonth(field)).values("month", *extra)
        return rows.annotate(n=Count("pk")).order_by()

    submitted = {_month_key(r["month"]): r["n"] for r in by_month(world_submissions(world), "submitted_at")}
    outcomes: dict[tuple, int] = {}
    for r in by_month(of_world(Determination.objects.all(), world), "issued_at", ("outcome",)):
        outcomes[(_month_key(r["month"]), r["outcome"])] = r["n"]
    breaches: dict[tuple, int] = {}
    for r in by_month(of_world(SlaBreach.objects.all(), world), "detected_at", ("kind",)):
        breaches[(_month_key(r["month"]), r["kind"])] = r["n"]
    elapsed = {m: breaches.get((m, SlaKind.DETERMINATION), 0) for m in months}

    activity = {
        "labels": labels,
        "series": [
            {"name": "Submitted", "tone": "neutral", "values": [submitted.get(m, 0) for m in months]},
            {"name": "Cleared", "tone": "ok", "values": [outcomes.get((m, "cleared"), 0) for m in months]},
            {"name": "Flagged", "tone": "bad", "values": [outcomes.get((m, "flagged"), 0) for m in months]},
            {"name": "Review window elapsed", "tone": "warn", "values": [elapsed[m] for m in months]},
        ],
    }
    breach_chart = {
        "labels": labels,
        "series": [
            {
                "name": kind.label,
                "tone": BREACH_TONES[kind],
                "values": [breaches.get((m, kind.value), 0) for m in months],
            }
            for kind in SlaKind
        ],
        "counts": True,
    }
    activity["counts"] = True
    timing = {
        "labels": labels,
        "series": [{"name": "Median days", "tone": "neutral", "values": _median_days_by_month(months, world)}],
    }
    for chart in (activity, breach_chart, timing):
        # The same figures row by row, for the table under each chart: each cell with its
        # series' name, which labels the cell when a phone shows the row as a card.
        chart["rows"] = [
            [label, [(s["name"], s["values"][i]) for s in chart["series"]]] for i, label in enumerate(labels)
        ]
    return {"activity": activity, "breaches": breach_chart, "timing": timing}


def _median_days_by_month(months: list[dt.date], world) -> list[float | None]:
    """Median days to determination for determinations issued in each month."""
    since = dt.datetime.combine(months[0], dt.time(), tzinfo=dt.UTC)
    determinations = of_world(
        Determination.objects.filter(issued_at__gte=since, submission__submitted_at__isnull=False), world
    )
    medians: dict[dt.date, float] = {}
    if connection.vendor == "postgresql":
        qs = determinations.annotate(
            month=TruncMonth("issued_at"), seconds=_EpochSeconds(F("issued_at") - F("submission__submitted_at"))
        ).values("month", "seconds")
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            # The inner SQL is the ORM's own; its values stay parameters.
            median = "percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds)"
            cursor.execute(f"SELECT month, {median} FROM ({sql}) AS durations GROUP BY month", params)  # noqa: S608
            medians = {_month_key(month): value / 86400 for month, value in cursor.fetchall()}
    else:
        grouped: dict[dt.date, list[float]] = {}
        for month, issued, submitted in determinations.annotate(month=TruncMonth("issued_at")).values_list(
            "month", "issued_at", "submission__submitted_at"
        ):
            grouped.setdefault(_month_key(month), []).append((issued - submitted).total_seconds() / 86400)
        medians = {m: statistics.median(v) for m, v in grouped.items()}
    return [round(medians[m], 1) if m in medians else None for m in months]
