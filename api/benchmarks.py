"""The benchmark catalog in the API: what each caller is cleared to name, and the lines'
changes for administrators (the same rules and services as the catalog's pages)."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import rules
from benchmarks import services
from benchmarks.models import Benchmark, BenchmarkVersion, LevelSetting, in_level_order
from benchmarks.trends import NotFound as TrendNotFound
from benchmarks.trends import benchmark_trends
from caisi_portal.errors import NotPermitted
from caisi_portal.ids import row_id

from .responses import ADMIN_LIST_ERRORS, _errors

MSG_CATALOG = "The benchmark catalog is the review office's."


class BenchmarkVersionSerializer(serializers.ModelSerializer):
    classification = serializers.CharField(source="get_classification_display")
    levels = serializers.SerializerMethodField()

    class Meta:
        model = BenchmarkVersion
        fields = [
            "id",
            "label",
            "classification",
            "metric",
            "metric_aliases",
            "direction",
            "levels",
            "inspect_tasks",
            "is_current",
            "is_legacy",
            "retired_at",
            "created_at",
        ]

    def get_levels(self, version) -> dict[str, str]:
        return {level: str(threshold) for level, threshold in in_level_order(version.levels.all()).items()}


class BenchmarkSerializer(serializers.ModelSerializer):
    domain = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Benchmark
        fields = ["slug", "name", "domain", "description", "versions"]

    @extend_schema_field(BenchmarkVersionSerializer(many=True))
    def get_versions(self, benchmark) -> list:
        return BenchmarkVersionSerializer(benchmark.visible_versions, many=True).data


class LevelsSerializer(serializers.Serializer):
    elevated = serializers.DecimalField(max_digits=9, decimal_places=3, required=False, allow_null=True)
    critical = serializers.DecimalField(max_digits=9, decimal_places=3, required=False, allow_null=True)
    reason = serializers.CharField(max_length=500)


class AliasesSerializer(serializers.Serializer):
    metric_aliases = serializers.ListField(
        child=serializers.CharField(max_length=services.MAX_ALIAS_LENGTH),
        max_length=services.MAX_ALIASES,
        allow_empty=True,
        help_text="The Inspect metrics that give the version's score, as scorer/metric (match/accuracy), tried in "
        "order after the metric's own name. An empty list: only the metric's own name.",
    )


class TrendPointSerializer(serializers.Serializer):
    submission = serializers.IntegerField(source="result.submission_id")
    model_name = serializers.CharField(source="submission.model_name")
    model_version = serializers.CharField(source="submission.model_version")
    organization = serializers.CharField(source="submission.organization.name")
    submitted_at = serializers.DateTimeField(source="when")
    score = serializers.DecimalField(source="result.score", max_digits=9, decimal_places=3)
    level = serializers.CharField(source="result.level")
    outcome = serializers.CharField(source="result.outcome")
    reviewed = serializers.BooleanField(help_text="The review has ended: only such scores raise the frontier.")
    highlighted = serializers.BooleanField()
    frontier_before = serializers.DecimalField(
        max_digits=9, decimal_places=3, allow_null=True, help_text="The best score of the models submitted before it."
    )
    frontier = serializers.DecimalField(
        max_digits=9, decimal_places=3, allow_null=True, help_text="The best score so far, this one included."
    )


class VersionTrendSerializer(serializers.Serializer):
    version = BenchmarkVersionSerializer()
    points = TrendPointSerializer(many=True)


class TrendsSerializer(serializers.Serializer):
    benchmark = serializers.SlugField(source="benchmark.slug")
    highlighted_submission = serializers.IntegerField(source="highlight.pk", allow_null=True, default=None)
    versions = VersionTrendSerializer(many=True, source="trends")


# Said whether the benchmark, version or submission does not exist or may not be read by this
# person: the answer must not tell the two apart.
MSG_NO_TREND = "No such benchmark, version or submission."


def _query_id(request, name) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    pk = row_id(value)
    if pk is None:
        raise exceptions.NotFound(MSG_NO_TREND)
    return pk


def _readers_only(user):
    if not rules.may_view_benchmark_catalog(user):
        raise NotPermitted(MSG_CATALOG)


@extend_schema_view(
    list=extend_schema(
        operation_id="benchmarks_list",
        summary="The benchmark catalog: the versions you are cleared for (office staff)",
        responses={200: BenchmarkSerializer(many=True), **ADMIN_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        operation_id="benchmarks_retrieve",
        summary="One benchmark, its versions you may name",
        responses={200: BenchmarkSerializer, **_errors(401, 403, 404, 429)},
    ),
)
class BenchmarkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = BenchmarkSerializer
    lookup_field = "slug"

    def get_queryset(self):
        user = self.request.user
        visible = rules.scope_benchmark_versions(BenchmarkVersion.objects.all(), user).prefetch_related(
            Prefetch("levels", queryset=LevelSetting.objects.order_by("threshold"))
        )
        return (
            rules.scope_benchmarks(Benchmark.objects.select_related("domain"), user)
            .prefetch_related(Prefetch("versions", queryset=visible, to_attr="visible_versions"))
            .order_by("domain__sort_order", "name")
        )

    def list(self, request, *args, **kwargs):
        _readers_only(request.user)
        return super().list(request, *args, **kwargs)

    @extend_schema(
        operation_id="benchmarks_trends",
        summary="Capability trends: reviewed models' scores per version you are cleared for, with the frontier",
        parameters=[
            OpenApiParameter("version", OpenApiTypes.INT, description="Only this benchmark version."),
            OpenApiParameter("submission", OpenApiTypes.INT, description="Highlight this submission's scores."),
        ],
        responses={200: TrendsSerializer, **_errors(401, 404, 429)},
    )
    @action(detail=True, methods=["get"], url_path="trends")
    def trends(self, request, slug=None):
        try:
            found = benchmark_trends(
                request.user,
                slug,
                version_id=_query_id(request, "version"),
                submission_id=_query_id(request, "submission"),
            )
        except TrendNotFound:
            raise exceptions.NotFound(MSG_NO_TREND) from None
        return Response(TrendsSerializer(found).data)


class BenchmarkVersionViewSet(viewsets.GenericViewSet):
    serializer_class = BenchmarkVersionSerializer

    def get_queryset(self):
        return rules.scope_benchmark_versions(
            BenchmarkVersion.objects.select_related("benchmark__domain"), self.request.user
        )

    @extend_schema(
        operation_id="benchmark_versions_levels_create",
        summary="Set a version's policy lines, with the reason (administrators cleared for it)",
        description="At least one of `elevated` and `critical` is given: a version with no line cannot decide "
        "an outcome, so a body with neither is refused (400), as are lines in the wrong order for the "
        "version's direction.",
        request=LevelsSerializer,
        responses={200: BenchmarkVersionSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"], url_path="levels")
    def levels(self, request, pk=None):
        version = self.get_object()
        body = LevelsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.benchmark_version_levels_set(
            actor=request.user,
            version=version,
            levels={k: data.get(k) for k in ("elevated", "critical")},
            reason=data["reason"],
        )
        version.refresh_from_db()
        return Response(BenchmarkVersionSerializer(version).data)

    @extend_schema(
        operation_id="benchmark_versions_metric_aliases_create",
        summary="Set a version's metric aliases: the Inspect metrics that give its score (administrators cleared "
        "for it; audited)",
        request=AliasesSerializer,
        responses={200: BenchmarkVersionSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"], url_path="metric-aliases")
    def metric_aliases(self, request, pk=None):
        version = self.get_object()
        body = AliasesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = services.benchmark_version_aliases_set(
            actor=request.user, version=version, aliases=body.validated_data["metric_aliases"]
        )
        return Response(BenchmarkVersionSerializer(version).data)
