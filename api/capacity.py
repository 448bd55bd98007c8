"""The capacity planner in the API: saved scenarios, a new one queued, one with its results.
The same form validates the body as on the page, so both refuse the same input in the same words."""

from __future__ import annotations

from django import forms
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from caisi_portal.errors import ValidationFailed
from capacity import services
from capacity.forms import ScenarioForm
from capacity.models import Scenario

from .permissions import CapacityPlanners
from .responses import ADMIN_LIST_ERRORS, _errors


class ScenarioSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField()
    percent = serializers.IntegerField(read_only=True)
    recommended_headcount = serializers.SerializerMethodField()

    class Meta:
        model = Scenario
        fields = [
            "id",
            "name",
            "status",
            "percent",
            "created_by",
            "created_at",
            "finished_at",
            "recommended_headcount",
            "inputs",
            "policy",
            "results",
            "error",
        ]

    def get_recommended_headcount(self, scenario) -> int | None:
        return scenario.results.get("recommended") if scenario.status == Scenario.Status.DONE else None


def _field(form_field):
    """The page's field as the schema documents it, with its bounds (the form itself validates,
    including what a schema cannot say: shares adding up to 100, a plan's lines)."""
    text = str(form_field.help_text or form_field.label or "")
    bounds = {
        key: getattr(form_field, key)
        for key in ("min_value", "max_value")
        if getattr(form_field, key, None) is not None
    }
    if isinstance(form_field, forms.IntegerField):
        return serializers.IntegerField(help_text=text, **bounds)
    if isinstance(form_field, forms.FloatField):
        return serializers.FloatField(help_text=text, **bounds)
    return serializers.CharField(help_text=text, max_length=form_field.max_length)


ScenarioRequestSerializer = type(
    "CapacityScenarioRequestSerializer",
    (serializers.Serializer,),
    {name: _field(f) for name, f in ScenarioForm.base_fields.items()},
)


@extend_schema_view(
    list=extend_schema(
        operation_id="capacity_scenarios_list",
        summary="Saved capacity scenarios (administrators)",
        responses={200: ScenarioSerializer(many=True), **ADMIN_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        operation_id="capacity_scenarios_retrieve",
        summary="One capacity scenario: its progress, then its results",
        responses={200: ScenarioSerializer, **_errors(401, 403, 404, 429)},
    ),
    create=extend_schema(
        operation_id="capacity_scenarios_create",
        summary="Save a capacity scenario and queue its simulation (the page's fields; arrivals may be a list)",
        description="As the scenario form reads them, and refused with the reasons (400) as it is: plans and "
        "work times are lines of `domains: share` and `domain: days`, arrivals 12 numbers (one a month), and "
        "each set of clearance shares (the submissions', the reviewers') must add up to 100.",
        request=ScenarioRequestSerializer,
        responses={201: ScenarioSerializer, **_errors(400, 401, 403, 429)},
    ),
)
class ScenarioViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = ScenarioSerializer
    permission_classes = [CapacityPlanners]

    def get_queryset(self):
        return (
            Scenario.objects.visible_to(self.request.user).select_related("created_by").order_by("-created_at", "-pk")
        )

    def create(self, request, *args, **kwargs):
        data = dict(request.data.items()) if hasattr(request.data, "items") else {}
        if isinstance(data.get("arrivals"), list):
            data["arrivals"] = ", ".join(str(a) for a in data["arrivals"])
        form = ScenarioForm(data)
        if not form.is_valid():
            errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
            name, messages = next(iter(errors.items()))
            raise ValidationFailed(f"{name}: {messages[0]}", details=errors)
        scenario = services.scenario_create(actor=request.user, name=form.cleaned_data["name"], inputs=form.inputs())
        return Response(ScenarioSerializer(scenario).data, status=status.HTTP_201_CREATED)
