"""Results become scores of a benchmark version, judged by the version's levels.

Results recorded before the catalog each carried a threshold their reviewer typed. Each domain
that has any gets one "legacy" benchmark version (not current, no levels of its own: nothing new
is recorded against it); every old result becomes a result of it and keeps the threshold it was
judged by as its applied level, so history keeps its meaning. Plans made before the catalog plan
the legacy version of their domains.
"""

import django.db.models.deletion
from decimal import Decimal

from django.db import migrations, models
from django.utils import timezone


def to_legacy_versions(apps, schema_editor):
    Domain = apps.get_model("reviews", "EvaluationDomain")
    Result = apps.get_model("reviews", "EvaluationResult")
    PlanItem = apps.get_model("reviews", "EvaluationPlanItem")
    Benchmark = apps.get_model("benchmarks", "Benchmark")
    Version = apps.get_model("benchmarks", "BenchmarkVersion")
    used = set(Result.objects.values_list("domain_id", flat=True)) | set(
        PlanItem.objects.values_list("domain_id", flat=True)
    )
    now = timezone.now()
    legacy = {}
    for domain in Domain.objects.filter(pk__in=used):
        benchmark = Benchmark.objects.create(
            domain=domain,
            slug=f"legacy-{domain.slug}"[:60],
            name=f"Legacy scores: {domain.name}"[:120],
            description=(
                "Results recorded before the benchmark catalog, each judged by the threshold its reviewer "
                "recorded with it. Kept for history; nothing new is recorded against it."
            ),
            created_at=now,
        )
        legacy[domain.pk] = Version.objects.create(
            benchmark=benchmark,
            label="legacy",
            classification=0,
            metric="score",
            direction="higher",
            inspect_tasks=[],
            is_current=False,
            is_legacy=True,
            created_at=now,
        )
    for result in Result.objects.all():
        threshold = Decimal(result.threshold)
        result.version = legacy[result.domain_id]
        result.levels_applied = {"elevated": str(threshold)}
        result.level = "elevated" if result.outcome == "threshold_exceeded" else ""
        result.save(update_fields=["version", "levels_applied", "level"])
    for item in PlanItem.objects.all():
        item.versions.add(legacy[item.domain_id])
    if schema_editor.connection.vendor == "postgresql":
        # The rows written above leave deferred foreign-key checks pending, and PostgreSQL refuses
        # the ALTER TABLEs that follow in this same transaction until they have run: run them now.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("benchmarks", "0001_catalog"),
        ("reviews", "0008_carried_findings"),
    ]

    operations = [
        migrations.AddField(
            model_name="evaluationresult",
            name="version",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="results",
                to="benchmarks.benchmarkversion",
            ),
        ),
        migrations.AddField(
            model_name="evaluationresult",
            name="levels_applied",
            field=models.JSONField(default=dict),
        ),
        migrations.AddField(
            model_name="evaluationresult",
            name="level",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AddField(
            model_name="evaluationplanitem",
            name="versions",
            field=models.ManyToManyField(blank=True, related_name="+", to="benchmarks.benchmarkversion"),
        ),
        migrations.RunPython(to_legacy_versions, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="evaluationresult", name="one_result_per_domain"),
        migrations.RemoveField(model_name="evaluationresult", name="threshold"),
        migrations.AlterField(
            model_name="evaluationresult",
            name="version",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="results", to="benchmarks.benchmarkversion"
            ),
        ),
        migrations.AlterField(
            model_name="evaluationresult",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("below_threshold", "Below every level"),
                    ("threshold_exceeded", "Level reached"),
                    ("inconclusive", "Inconclusive"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterModelOptions(
            name="evaluationresult", options={"ordering": ["domain__sort_order", "version_id"]}
        ),
        migrations.AddConstraint(
            model_name="evaluationresult",
            constraint=models.UniqueConstraint(fields=("submission", "version"), name="one_result_per_version"),
        ),
    ]
