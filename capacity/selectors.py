"""What the live office's last year says about its work: the planner's starting values.

A fixed number of queries whatever the history's size (the scenario form shows these on every
visit). Only live rows count: an exercise's simulated reviews say nothing about the office.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from django.db.models import Avg, Count, F, OuterRef, Q, Subquery

from accounts.models import Clearance
from accounts.roles import Role
from reviews.models import Assignment, EvaluationDomain, EvaluationPlanItem, EvaluationResult
from submissions.models import Agreement, ModelSubmission, SlaKind, SlaObligation

YEAR = dt.timedelta(days=365)
# Used where the history has nothing to say (a new office, a new domain).
DEFAULTS = {
    "arrivals": 4.0,
    "work_days": 3.0,
    "intake_days": 1.0,
    "information_share": 20,
    "answer_days": 7.0,
    "window_days": 30,
    "headcount": 6,
}


def _days(delta) -> float | None:
    return round(delta.total_seconds() / 86400, 1) if delta is not None else None


def history_fit(now: dt.datetime) -> dict:
    """The last 12 months, as starting values for a scenario, and how many rows each rests on."""
    since = now - YEAR
    live = ModelSubmission.objects.filter(exercise__isnull=True, submitted_at__gte=since, submitted_at__lte=now)
    by_month = Counter(d.month for d in live.values_list("submitted_at", flat=True))
    submitted = sum(by_month.values())

    obligations = SlaObligation.objects.filter(exercise__isnull=True, opened_at__gte=since, opened_at__lte=now)
    spent = F("closed_at") - F("opened_at")
    closed = Q(closed_at__isnull=False)
    facts = obligations.aggregate(
        intake=Avg(spent, filter=Q(kind=SlaKind.INTAKE_DECISION) & closed),
        answer=Avg(spent, filter=Q(kind=SlaKind.DEVELOPER_ANSWER) & closed),
        requests=Count("pk", filter=Q(kind=SlaKind.DEVELOPER_ANSWER)),
    )

    plans = defaultdict(list)
    for submission_id, slug in EvaluationPlanItem.objects.filter(submission__in=live).values_list(
        "submission_id", "domain__slug"
    ):
        plans[submission_id].append(slug)
    mix = Counter(tuple(sorted(domains)) for domains in plans.values())

    # Work per domain: days from the lead's assignment to that domain's result (what the office
    # records; a reviewer's own hours are not), averaged over the year's results.
    lead_since = Assignment.objects.filter(submission=OuterRef("submission"), role=Assignment.Role.LEAD).values(
        "assigned_at"
    )[:1]
    work = {
        row["domain__slug"]: _days(row["spent"])
        for row in EvaluationResult.objects.filter(submission__in=live)
        .annotate(assigned=Subquery(lead_since))
        .filter(assigned__isnull=False, recorded_at__gte=F("assigned"))
        .values("domain__slug")
        .annotate(spent=Avg(F("recorded_at") - F("assigned")))
    }
    domains = list(EvaluationDomain.objects.filter(is_active=True).values_list("slug", flat=True))

    from django.contrib.auth import get_user_model

    reviewers = Counter(
        get_user_model()
        .objects.filter(
            exercise__isnull=True,
            is_active=True,
            groups__name__in=[Role.REVIEWER, Role.LEAD_REVIEWER],
        )
        .exclude(groups__name=Role.INSTITUTE_REVIEWER)
        .distinct()
        .values_list("clearance", flat=True)
    )
    windows = Counter(
        Agreement.objects.filter(organization__exercise__isnull=True, status=Agreement.Status.SIGNED).values_list(
            "review_window_days", flat=True
        )
    )
    headcount = sum(reviewers.values())
    return {
        "submitted": submitted,
        "arrivals": [float(by_month.get(m, 0)) for m in range(1, 13)] if submitted else [DEFAULTS["arrivals"]] * 12,
        "plans": [(list(domains), n) for domains, n in mix.most_common(8)] or [(domains[:3], 1)],
        "plans_seen": len(plans),
        "work_days": {d: work.get(d) or DEFAULTS["work_days"] for d in domains},
        "work_fitted": sorted(d for d in domains if work.get(d)),
        "intake_days": _days(facts["intake"]) or DEFAULTS["intake_days"],
        "answer_days": _days(facts["answer"]) or DEFAULTS["answer_days"],
        "information_share": round(100 * facts["requests"] / submitted) if submitted else DEFAULTS["information_share"],
        "headcount": headcount or DEFAULTS["headcount"],
        "reviewer_clearance": {c: reviewers.get(c, 0) for c in Clearance.values}
        if headcount
        else {Clearance.UNCLASSIFIED: 50, Clearance.CUI: 30, Clearance.SECRET: 20},
        "window_days": windows.most_common(1)[0][0] if windows else DEFAULTS["window_days"],
    }
