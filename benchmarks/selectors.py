"""Reading the catalog as one person may: the versions they are cleared for, by name; of the
others, only that they exist and in which domain."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Prefetch

from accounts import rules
from reviews.models import EvaluationDomain

from .models import Benchmark, BenchmarkVersion, LevelChange, LevelSetting


@dataclass
class DomainCatalog:
    domain: EvaluationDomain
    benchmarks: list = field(default_factory=list)  # [(benchmark, [visible versions])]
    hidden_versions: int = 0


def _visible_versions(user):
    return (
        rules.scope_benchmark_versions(BenchmarkVersion.objects.all(), user)
        .select_related("benchmark__domain")
        .prefetch_related(Prefetch("levels", queryset=LevelSetting.objects.order_by("threshold")))
        .order_by("benchmark__name", "-created_at")
    )


def catalog_for(user) -> list[DomainCatalog]:
    """Every domain with the benchmarks this person may name. Four queries however large the
    catalog: domains, visible versions, their levels, and the count of the rest per domain."""
    domains = {d.pk: DomainCatalog(d) for d in EvaluationDomain.objects.all()}
    by_benchmark: dict = {}
    for version in _visible_versions(user):
        by_benchmark.setdefault(version.benchmark, []).append(version)
    for benchmark, versions in by_benchmark.items():
        domains[benchmark.domain_id].benchmarks.append((benchmark, versions))
    visible = rules.scope_benchmark_versions(BenchmarkVersion.objects.all(), user).values("pk")
    hidden = (
        BenchmarkVersion.objects.exclude(pk__in=visible)
        .values("benchmark__domain_id")
        .annotate(n=Count("pk"))
        .values_list("benchmark__domain_id", "n")
    )
    for domain_id, n in hidden:
        domains[domain_id].hidden_versions = n
    return list(domains.values())


def benchmark_page(user, slug: str):
    """(benchmark, visible versions with levels and history, hidden version count), or None
    when the person may not name the benchmark."""
    benchmark = rules.scope_benchmarks(Benchmark.objects.select_related("domain"), user).filter(slug=slug).first()
    if benchmark is None:
        return None
    versions = list(
        _visible_versions(user)
        .filter(benchmark=benchmark)
        .prefetch_related(Prefetch("level_changes", queryset=LevelChange.objects.select_related("changed_by")))
    )
    hidden = benchmark.versions.count() - len(versions)
    return benchmark, versions, hidden
