"""Capability trends: every reviewed model's score on a benchmark version over time, the
frontier (the most dangerous score so far, by the version's direction), and one submission set
against them.

What a reader may place on a trend is accounts.rules' (scope_trend_results, scope_compared_results).
The frontier is computed here from those rows only, so it never reveals a score the reader may
not see. Scores of two versions of a benchmark are not on one scale: a frontier and a change in
score are always within one version. A point's time is its submission's submitted_at (when the
model came to the office), so "the frontier at the time" is the best of the models submitted
before it; a submission whose review has not ended is drawn but never raises the frontier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, Q

from accounts import rules
from caisi_portal import timefmt
from reviews.models import EvaluationResult
from submissions.models import ANNOUNCED_STATES, ModelSubmission

from .models import Benchmark, BenchmarkVersion, LevelSetting, PolicyLevel, in_level_order

LEVEL_TONES = {PolicyLevel.ELEVATED: "warn", PolicyLevel.CRITICAL: "bad"}


def more_dangerous(version, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """The more dangerous of two scores by the version's direction (None counts as no score)."""
    if a is None:
        return b
    if b is None:
        return a
    if version.direction == BenchmarkVersion.Direction.HIGHER:
        return max(a, b)
    return min(a, b)


def _when(result):
    return result.submission.submitted_at or result.recorded_at


@dataclass
class TrendPoint:
    result: EvaluationResult
    reviewed: bool
    highlighted: bool
    frontier_before: Decimal | None = None  # the best of the models submitted before it
    frontier: Decimal | None = None  # the best so far, this model included once reviewed

    @property
    def submission(self):
        return self.result.submission

    @property
    def when(self):
        return _when(self.result)


@dataclass
class VersionTrend:
    version: BenchmarkVersion
    thresholds: dict
    points: list[TrendPoint] = field(default_factory=list)

    @property
    def chart_id(self) -> str:
        return f"trend-{self.version.pk}"

    @property
    def levels_shown(self) -> list[dict]:
        """The policy levels in force on the version, in words for the page (the chart draws them)."""
        return [{"label": PolicyLevel(level).label, "threshold": value} for level, value in self.thresholds.items()]

    @property
    def highlighted(self) -> TrendPoint | None:
        return next((p for p in self.points if p.highlighted), None)

    def chart(self) -> dict:
        """The figures as static/js/charts.js draws them: one label per model, in time order, its
        day in the reader's time zone as the figures table writes it."""
        labels = [f"{timefmt.day(p.when)} {p.submission.model_name} {p.submission.model_version}" for p in self.points]
        n = len(self.points)
        series = [
            {
                "name": "Reviewed models",
                "tone": "neutral",
                "points_only": True,
                "values": [float(p.result.score) if p.reviewed else None for p in self.points],
            },
            {
                "name": "Frontier (best so far)",
                "tone": "frontier",
                "stepped": True,
                "values": [float(p.frontier) if p.frontier is not None else None for p in self.points],
            },
        ]
        for level, threshold in self.thresholds.items():
            series.append(
                {
                    "name": f"{PolicyLevel(level).label} level",
                    "tone": LEVEL_TONES.get(level, "warn"),
                    "dashed": True,
                    "values": [float(threshold)] * n,
                }
            )
        if self.highlighted is not None:
            series.append(
                {
                    "name": f"This submission ({self.highlighted.submission})",
                    "tone": "highlight",
                    "points_only": True,
                    "emphasis": True,
                    "values": [float(p.result.score) if p.highlighted else None for p in self.points],
                }
            )
        return {"labels": labels, "series": series}


class NotFound(Exception):
    """A benchmark, version or submission the reader may not name."""


def _points(version, results, highlight_id) -> list[TrendPoint]:
    """The version's points in time order, with the frontier before and after each. Models
    submitted at the same moment do not count as before one another."""
    points, best_before, best_here, moment = [], None, None, object()
    for r in results:
        when = _when(r)
        if when != moment:
            best_before, best_here, moment = more_dangerous(version, best_before, best_here), None, when
        reviewed = r.submission.state in ANNOUNCED_STATES
        point = TrendPoint(result=r, reviewed=reviewed, highlighted=r.submission_id == highlight_id)
        point.frontier_before = best_before
        if reviewed:
            best_here = more_dangerous(version, best_here, r.score)
        point.frontier = more_dangerous(version, best_before, best_here)
        points.append(point)
    return points


def _highlight(user, submission_id) -> ModelSubmission | None:
    if submission_id is None:
        return None
    submission = ModelSubmission.objects.visible_to(user).filter(pk=submission_id).first()
    if submission is None or not rules.may_compare_with_trends(user, submission):
        raise NotFound
    return submission


def benchmark_trends(user, slug: str, *, version_id: int | None = None, submission_id: int | None = None) -> dict:
    """The benchmark, one VersionTrend per version the reader is cleared for (or only the one
    asked for), and the highlighted submission. NotFound for a benchmark, version or submission
    the reader may not name. A fixed number of queries however many results: the benchmark,
    the versions, their levels, the highlighted submission (and what the rules ask of it), and
    the results."""
    benchmark = rules.scope_benchmarks(Benchmark.objects.select_related("domain"), user).filter(slug=slug).first()
    if benchmark is None:
        raise NotFound
    versions = (
        rules.scope_benchmark_versions(BenchmarkVersion.objects.filter(benchmark=benchmark), user)
        .prefetch_related(Prefetch("levels", queryset=LevelSetting.objects.order_by("threshold")))
        .order_by("-created_at")
    )
    if version_id is not None:
        versions = versions.filter(pk=version_id)
    versions = list(versions)
    if not versions:
        raise NotFound
    highlight = _highlight(user, submission_id)
    base = EvaluationResult.objects.filter(version__in=[v.pk for v in versions])
    shown = Q(pk__in=rules.scope_trend_results(base, user).values("pk"))
    if highlight is not None:
        shown |= Q(pk__in=rules.scope_compared_results(base, user, highlight).values("pk"))
    results = (
        base.filter(shown)
        .select_related("submission__organization")
        .order_by("submission__submitted_at", "recorded_at", "pk")
    )
    by_version: dict[int, list] = {v.pk: [] for v in versions}
    for r in results:
        by_version[r.version_id].append(r)
    trends = []
    for v in versions:
        # Submitted_at orders the query; a result without one (never the case for a reviewed
        # model) falls back to when it was recorded, so sort again on the same key.
        ordered = sorted(by_version[v.pk], key=lambda r: (_when(r), r.pk))
        trend = VersionTrend(version=v, thresholds=in_level_order(v.levels.all()))
        trend.points = _points(v, ordered, highlight.pk if highlight else None)
        trends.append(trend)
    return {"benchmark": benchmark, "trends": trends, "highlight": highlight}


# --- the submission page: compared with earlier models ---------------------------------------------


def _same_model(a, b) -> bool:
    return a.organization_id == b.organization_id and a.model_name.strip().casefold() == b.model_name.strip().casefold()


def compared_with_earlier_models(submission, user) -> dict | None:
    """For each of the submission's results the reader may see: the change against the previous
    version of the same model (the version it supersedes when that has a result on the benchmark,
    else the latest earlier one of the same name and lab) and against the frontier when it was
    submitted. None when the reader may not compare it. A fixed number of queries: the
    submission's results, the earlier results on the same benchmarks (and the rules' own)."""
    if not rules.may_compare_with_trends(user, submission):
        return None
    own = list(
        rules.scope_compared_results(EvaluationResult.objects.all(), user, submission).select_related(
            "domain", "version__benchmark"
        )
    )
    rows = []
    if own:
        since = submission.submitted_at
        earlier = (
            rules.scope_trend_results(
                EvaluationResult.objects.filter(version__benchmark_id__in={r.version.benchmark_id for r in own}), user
            )
            .exclude(submission_id=submission.pk)
            .select_related("submission", "version")
        )
        if since is not None:
            earlier = earlier.filter(submission__submitted_at__lt=since)
        earlier = list(earlier)
        for r in sorted(own, key=lambda r: (r.domain.sort_order, r.version.benchmark.name)):
            rows.append(_compared_row(submission, r, earlier))
    return {"rows": rows}


def _compared_row(submission, result, earlier) -> dict:
    version = result.version
    same_benchmark = [e for e in earlier if e.version.benchmark_id == version.benchmark_id]
    frontier = None
    for e in same_benchmark:
        if e.version_id == version.pk:
            frontier = more_dangerous(version, frontier, e.score)
    model_results = [e for e in same_benchmark if _same_model(e.submission, submission)]
    # The version it supersedes first; otherwise the latest earlier one; on one submission,
    # the result of the same benchmark version before one of another version.
    model_results.sort(
        key=lambda e: (
            e.submission_id == submission.supersedes_id,
            e.submission.submitted_at,
            e.version_id == version.pk,
        ),
        reverse=True,
    )
    previous = model_results[0] if model_results else None
    comparable = previous is not None and previous.version_id == version.pk
    # Past the frontier: more dangerous than every earlier model on this version.
    beyond = (
        frontier is not None
        and result.score != frontier
        and more_dangerous(version, frontier, result.score) == result.score
    )
    return {
        "result": result,
        "previous": previous,
        "previous_change": result.score - previous.score if comparable else None,
        "previous_versions_differ": previous is not None and not comparable,
        "frontier": frontier,
        "frontier_change": result.score - frontier if frontier is not None else None,
        "new_frontier": beyond,
    }
