"""The REST API: thin views over the same rules, scopes and services as the pages.

A submission the caller may not see is 404; an action their role may not take on one
they can see is 403; an illegal or concurrent transition is 409 with the current state.
"""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import rules
from accounts.models import Clearance
from caisi_portal import clock
from caisi_portal.errors import NotPermitted
from partners import integrations
from partners import services as partner_services
from partners.models import Delivery, TrustedPartner, WebhookEndpoint
from reviews import services as review_services
from reviews.models import Determination, Finding
from submissions import review_clock, services
from submissions.models import (
    Agreement,
    ModelSubmission,
    Organization,
    ReleaseChannel,
    ReviewClock,
    SlaBreach,
    SlaPolicy,
    State,
)

from . import serializers as s
from .assignments import AssignmentActions
from .permissions import IntegrationManagers, LiveAdministrators, PartnerStaff
from .responses import ADMIN_LIST_ERRORS, CONFLICT, LIST_ERRORS, TOO_LARGE, _errors


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.CharFilter):
    """An id to match: a number too large for any row matches nothing (never an error)."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        try:
            ident = int(value)
        except ValueError:
            raise ValidationError({self.field_name: ["Enter a whole number."]}) from None
        if not 0 < ident < 2**63:
            return qs.none()
        return qs.filter(**{self.field_name: ident})


MSG_EMPTY_PARAMETER = "Give a value, or leave the parameter out."


def refuse_empty_parameters(query, names) -> None:
    """A query parameter given with no value is a mistake to report, not a parameter to ignore."""
    empty = sorted(name for name in names if name in query and query.get(name) == "")
    if empty:
        raise ValidationError({name: [MSG_EMPTY_PARAMETER] for name in empty})


@extend_schema_field({"type": "string", "minLength": 1})
class TextFilter(django_filters.CharFilter):
    """Text to match; the schema says it cannot be empty (StrictFilterSet refuses an empty one)."""


class StrictFilterSet(django_filters.FilterSet):
    """A filter given with no value is a mistake to report, not a filter to ignore."""

    def filter_queryset(self, queryset):
        refuse_empty_parameters(self.data, self.filters)
        return super().filter_queryset(queryset)


class DeliveryFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=Delivery.Status.choices)
    channel = django_filters.ChoiceFilter(choices=Delivery.Channel.choices)

    class Meta:
        model = Delivery
        fields = []


class SubmissionFilter(StrictFilterSet):
    state = django_filters.ChoiceFilter(choices=State.choices)
    organization = IdFilter(field_name="organization_id")
    release_channel = django_filters.ChoiceFilter(choices=ReleaseChannel.choices)
    model_name = TextFilter(lookup_expr="icontains")

    class Meta:
        model = ModelSubmission
        fields = []


@extend_schema_view(
    list=extend_schema(
        summary="Organizations you may see", responses={200: s.OrganizationSerializer(many=True), **LIST_ERRORS}
    ),
    retrieve=extend_schema(
        summary="One organization", responses={200: s.OrganizationSerializer, **_errors(401, 404, 429)}
    ),
)
class OrganizationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.OrganizationSerializer

    def get_queryset(self):
        return rules.scope_organizations(Organization.objects.all(), self.request.user).order_by("name")


@extend_schema_view(
    list=extend_schema(
        summary="Review agreements you may see", responses={200: s.AgreementSerializer(many=True), **LIST_ERRORS}
    ),
    retrieve=extend_schema(summary="One agreement", responses={200: s.AgreementSerializer, **_errors(401, 404, 429)}),
)
class AgreementViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.AgreementSerializer

    def get_queryset(self):
        return Agreement.objects.visible_to(self.request.user).select_related("organization").order_by("pk")

    @extend_schema(
        summary="Change an agreement's status (administrators)",
        description="The reason (`note`) is required, in words. Suspending or terminating decides each open "
        "review of the organization (`open_reviews`): one left undecided, or one not open, is refused (400). "
        "An action the agreement's status does not allow is refused (409).",
        request=s.AgreementStatusSerializer,
        responses={200: s.AgreementSerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    )
    @action(detail=True, filter_backends=[], methods=["post"])
    def status(self, request, pk=None):
        agreement = self.get_object()
        # The role first: someone who may not change agreements is told so, whatever they sent.
        if not rules.may_manage_agreements(request.user, agreement):
            raise NotPermitted(services.MSG_AGREEMENTS_WHO)
        body = s.AgreementStatusSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.agreement_change_status(agreement=agreement, actor=request.user, **body.validated_data)
        return Response(s.AgreementSerializer(agreement).data)

    @extend_schema(
        summary="Set the review window (administrators)",
        request=s.AgreementWindowSerializer,
        responses={200: s.AgreementSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["post"])
    def window(self, request, pk=None):
        agreement = self.get_object()
        body = s.AgreementWindowSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.agreement_set_window(
            agreement=agreement, actor=request.user, days=body.validated_data["review_window_days"]
        )
        return Response(s.AgreementSerializer(agreement).data)


@extend_schema_view(
    list=extend_schema(
        summary="Submissions you may see",
        responses={200: s.SubmissionSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(summary="One submission", responses={200: s.SubmissionSerializer, **_errors(401, 404, 429)}),
    # Drafts are written as JSON: a form body cannot say "no date" (null) for an optional field.
    create=extend_schema(
        summary="File a draft (developer staff)",
        description="An organization has one live submission per model name and version: a draft of one it "
        "has already filed (and not withdrawn) is refused (400). A new version names the earlier one it "
        "supersedes, which must be your organization's, of the same model, its review ended.",
        request={"application/json": s.SubmissionWriteSerializer},
        responses={201: s.SubmissionSerializer, **_errors(400, 401, 403, 429)},
    ),
    partial_update=extend_schema(
        summary="Edit a draft (developer staff)",
        request={"application/json": s.SubmissionWriteSerializer},
        responses={200: s.SubmissionSerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    ),
)
class SubmissionViewSet(
    AssignmentActions,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.SubmissionSerializer
    filterset_class = SubmissionFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return ModelSubmission.objects.visible_to(self.request.user).select_related("organization").order_by("-pk")

    def filter_queryset(self, queryset):
        # The list's filters are for the list: an action on one submission ignores them.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def create(self, request, *args, **kwargs):
        if not rules.may_create_submission(request.user):
            raise NotPermitted("Only developer staff of an AI developer organization can file submissions.")
        body = s.SubmissionWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        submission = services.submission_create_draft(actor=request.user, **body.validated_data)
        return Response(self.get_serializer(submission).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        submission = self.get_object()
        body = s.SubmissionWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.submission_update_draft(submission=submission, actor=request.user, **body.validated_data)
        return Response(self.get_serializer(submission).data)

    def update(self, request, *args, **kwargs):  # PUT is not offered: drafts change field by field
        return self.partial_update(request, *args, **kwargs)

    # --- artifacts ---------------------------------------------------------------------------
    # A submission's parts (artifacts, history, findings, ...) are short lists sent whole, never in
    # pages: pagination_class=None on each, so that the schema says "an array", as they are sent.

    @extend_schema(
        methods=["get"],
        summary="Artifacts of a submission",
        responses={200: s.ArtifactSerializer(many=True), **_errors(401, 403, 404, 429)},
    )
    @extend_schema(
        methods=["post"],
        summary="Upload an artifact (developer staff, before evaluation)",
        description="PDF, Markdown, plain text, JSON or CSV, read from its name and its content: another "
        "kind of file, an empty one, or one whose content does not match its name, is refused (400).",
        request={"multipart/form-data": s.ArtifactUploadSerializer},
        responses={201: s.ArtifactSerializer, **_errors(400, 401, 403, 404, 429, extra=TOO_LARGE)},
    )
    @action(
        detail=True,
        filter_backends=[],
        pagination_class=None,
        methods=["get", "post"],
        parser_classes=[MultiPartParser, FormParser],
    )
    def artifacts(self, request, pk=None):
        submission = self.get_object()
        if request.method == "GET":
            if not rules.may_view_artifacts(request.user, submission):
                raise NotPermitted("Artifacts are for the developer and the review office.")
            return Response(s.ArtifactSerializer(submission.artifacts.all(), many=True).data)
        body = s.ArtifactUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        artifact = services.artifact_upload(
            submission=submission,
            actor=request.user,
            kind=body.validated_data["kind"],
            uploaded=body.validated_data["file"],
        )
        return Response(s.ArtifactSerializer(artifact).data, status=status.HTTP_201_CREATED)

    # --- transitions and history ----------------------------------------------------------------

    @extend_schema(
        summary="The transitions you may take now",
        responses={200: s.TransitionSerializer(many=True), **_errors(401, 404, 429)},
    )
    @action(detail=True, filter_backends=[], pagination_class=None, methods=["get"])
    def transitions(self, request, pk=None):
        submission = self.get_object()
        data = [
            {
                "name": t.name,
                "label": t.custom.get("label", t.name),
                "target": str(t.target) if isinstance(t.target, str) else "*",
            }
            for t in services.available_transitions(submission, request.user)
        ]
        return Response(s.TransitionSerializer(data, many=True).data)

    @extend_schema(
        summary="Take a transition",
        description="Names: "
        + ", ".join(services.all_transition_names())
        + ". Each takes only its own fields: another's is refused (400). Required, else refused (400): "
        + "; ".join(f"{name}: {', '.join(fields)}" for name, fields in services.transition_required_inputs().items())
        + ". Whether it may be taken now is the submission's state and guards (409, with the reasons).",
        parameters=[
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=services.all_transition_names())
        ],
        request=s.TransitionRequestSerializer,
        responses={200: s.SubmissionSerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"transitions/(?P<name>[a-z_]+)",
        parser_classes=[JSONParser, FormParser],
    )
    def take_transition(self, request, pk=None, name=None):
        submission = self.get_object()
        if name not in services.all_transition_names():
            return _not_found()
        body = s.TransitionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        comment = data.pop("comment", "")
        expected = data.pop("expected_state", None)
        if "checklist" in data:
            data["checklist"] = dict(data["checklist"])
        services.submission_transition(
            submission=submission, name=name, actor=request.user, comment=comment, expected_state=expected, data=data
        )
        return Response(self.get_serializer(submission).data)

    @extend_schema(
        summary="Audit history", responses={200: s.AuditEntrySerializer(many=True), **_errors(401, 404, 429)}
    )
    @action(detail=True, filter_backends=[], pagination_class=None, methods=["get"])
    def history(self, request, pk=None):
        submission = self.get_object()
        entries = submission.audit_entries.for_viewer(request.user).select_related("actor", "submission")
        return Response(s.AuditEntrySerializer(entries, many=True, context={"request": request}).data)

    @extend_schema(summary="The review clock", responses={200: s.ReviewClockSerializer, **_errors(401, 403, 404, 429)})
    @action(detail=True, filter_backends=[], methods=["get"])
    def clock(self, request, pk=None):
        submission = self.get_object()
        if not rules.may_view_review_clock(request.user, submission):
            raise NotPermitted("The review clock is for the developer and the review office.")
        review = get_object_or_404(ReviewClock.objects.prefetch_related("pauses"), submission=submission)
        return Response(s.ReviewClockSerializer(review, context={"now": clock.now()}).data)

    @extend_schema(
        summary="SLA obligations: what the office owes on this submission, by when, met or breached",
        description=(
            "Each target opened on the submission (intake decision, reviewer assignment, the developer's "
            "answer to an information request), oldest first. Visible to whoever may see the review clock: "
            "the developer's staff and the review office."
        ),
        responses={200: s.SlaObligationSerializer(many=True), **_errors(401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], pagination_class=None, methods=["get"], url_path="sla-obligations")
    def sla_obligations(self, request, pk=None):
        submission = self.get_object()
        if not rules.may_view_sla_obligations(request.user, submission):
            raise NotPermitted("SLA obligations are for the developer and the review office.")
        obligations = submission.sla_obligations.order_by("opened_at", "pk")
        return Response(s.SlaObligationSerializer(obligations, many=True).data)

    # --- the office's side --------------------------------------------------------------------------

    @extend_schema(
        methods=["get"],
        summary="Assigned reviewers",
        responses={200: s.AssignmentSerializer(many=True), **_errors(401, 403, 404, 429)},
    )
    @extend_schema(
        methods=["post"],
        summary="Assign a reviewer (administrators, lead reviewers)",
        description=(
            "The reviewer is named by username, among the reviewers of your world. Refused with the "
            "reason (400): one already assigned, one with a conflict of interest with the developer, one who is "
            "not a reviewer (or not a lead reviewer, to lead), a second lead. A reviewer cleared below what the "
            "review's evidence needs is refused (400, the reason in `details.acknowledge_clearance_gap`) unless "
            "`acknowledge_clearance_gap` is true, as on the page; the answer's `clearance_gap` then says what the "
            "gap means."
        ),
        request=s.AssignmentCreateSerializer,
        responses={201: s.AssignmentSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], pagination_class=None, methods=["get", "post"])
    def assignments(self, request, pk=None):
        submission = self._office_submission()
        if request.method == "GET":
            context = {"clearance_needed": rules.clearance_needed(submission)}
            assignments = submission.assignments.select_related(
                "reviewer", "submission", "handover__reviewer", "handover__handed_to", "handover__ended_by"
            )
            return Response(s.AssignmentSerializer(assignments, many=True, context=context).data)
        body = s.AssignmentCreateSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        assignment = review_services.assignment_create(submission=submission, actor=request.user, **body.validated_data)
        return Response(s.AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["get"],
        summary="Evaluation results, by benchmark version",
        description=(
            "The results on benchmark versions you are cleared for (on a joint review: within your institute's "
            "arrangement's cap), each with the levels it was judged by and the level it reached. Of results on "
            "benchmarks above your clearance, only their domain."
        ),
        responses={200: s.EvaluationResultListSerializer, **_errors(401, 403, 404, 429)},
    )
    @extend_schema(
        methods=["post"],
        summary="Record a score for a planned benchmark version (assigned reviewers)",
        description=(
            "The outcome and the level reached are computed from the version's policy levels: a `threshold`, "
            "`outcome` or `level` sent with the score is refused (400). "
            "Recording again for the same version replaces the score."
        ),
        request=s.EvaluationResultCreateSerializer,
        responses={201: s.EvaluationResultSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["get", "post"])
    def results(self, request, pk=None):
        submission = self._evaluation_submission()
        if request.method == "GET":
            every = list(submission.results.select_related("domain", "institute", "version__benchmark"))
            clearance = rules.evidence_clearance(request.user, submission)
            data = {
                "results": [r for r in every if r.version.classification <= clearance],
                "above_your_clearance": [
                    {"domain": r.domain.slug} for r in every if r.version.classification > clearance
                ],
            }
            return Response(s.EvaluationResultListSerializer(data).data)
        body = s.EvaluationResultCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = review_services.evaluation_result_record(
            submission=submission, actor=request.user, **body.validated_data
        )
        return Response(s.EvaluationResultSerializer(result).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["get"],
        summary="The evaluation plan: each domain's planned benchmark versions",
        responses={200: s.PlanItemSerializer(many=True), **_errors(401, 403, 404, 429)},
    )
    @extend_schema(
        methods=["post"],
        summary="Choose the benchmark versions for one planned domain (the lead, while evaluating)",
        description="The domain is named by its slug and must be in the review's plan (GET .../plan/); the "
        "versions must be that domain's (current or earlier, not retired), each once. Else refused with the "
        "reason (400).",
        request=s.PlanVersionsSerializer,
        responses={200: s.PlanItemSerializer(many=True), **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], pagination_class=None, methods=["get", "post"])
    def plan(self, request, pk=None):
        submission = self._evaluation_submission()
        if request.method == "POST":
            body = s.PlanVersionsSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            review_services.evaluation_plan_versions_set(
                submission=submission, actor=request.user, **body.validated_data
            )
        clearance = rules.evidence_clearance(request.user, submission)
        rows = []
        for item in submission.plan_items.select_related("domain").prefetch_related("versions"):
            versions = list(item.versions.all())
            shown = sorted(v.pk for v in versions if v.classification <= clearance)
            rows.append({"domain": item.domain, "versions": shown, "above_your_clearance": len(versions) - len(shown)})
        return Response(s.PlanItemSerializer(rows, many=True).data)

    @extend_schema(
        summary="Record a result from an Inspect evaluation log (assigned reviewers)",
        request={"multipart/form-data": s.InspectLogUploadSerializer},
        responses={201: s.EvaluationResultSerializer, **_errors(400, 401, 403, 404, 429, extra=TOO_LARGE)},
    )
    @action(
        detail=True, filter_backends=[], methods=["post"], url_path="results/inspect", parser_classes=[MultiPartParser]
    )
    def inspect_result(self, request, pk=None):
        from reviews import inspect_logs

        submission = self._evaluation_submission()
        # Refuse the role before reading a possibly large upload.
        if not rules.may_record_evaluation(request.user, submission):
            raise NotPermitted("Only reviewers assigned to this submission can record results during evaluation.")
        body = s.InspectLogUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = inspect_logs.result_from_inspect_log(submission=submission, actor=request.user, **body.validated_data)
        return Response(s.EvaluationResultSerializer(result).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["get"],
        summary="Findings at or below your clearance",
        responses={200: s.FindingSerializer(many=True), **_errors(401, 403, 404, 429)},
    )
    @extend_schema(
        methods=["post"],
        summary="Record a finding (assigned reviewers)",
        description="The evaluation domain is named by its slug (GET .../plan/ lists the review's): a slug of "
        "no domain is refused (400).",
        request=s.FindingCreateSerializer,
        responses={201: s.FindingSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], pagination_class=None, methods=["get", "post"])
    def findings(self, request, pk=None):
        submission = self._evaluation_submission()
        if request.method == "GET":
            findings = (
                Finding.objects.visible_to(request.user)
                .filter(submission=submission)
                .select_related("domain", "institute", "carried_from")
            )
            return Response(s.FindingSerializer(findings, many=True).data)
        body = s.FindingCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data["classification"] = {c.label: c.value for c in Clearance}[data["classification"]]
        finding = review_services.finding_record(submission=submission, actor=request.user, **data)
        return Response(s.FindingSerializer(finding).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Resolve a finding carried from the earlier version (the review's lead, with a reason)",
        description=(
            "A new version's open findings of the version it supersedes are carried forward when its re-review "
            "is accepted; clearing waits until each is resolved. A finding above your clearance is not found."
        ),
        request=s.FindingResolveSerializer,
        responses={200: s.FindingSerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    )
    @action(detail=True, filter_backends=[], methods=["post"], url_path=r"findings/(?P<finding_id>[0-9]+)/resolve")
    def resolve_finding(self, request, pk=None, finding_id=None):
        submission = self.get_object()
        finding = get_object_or_404(
            Finding.objects.visible_to(request.user).select_related("submission", "domain", "carried_from__submission"),
            pk=finding_id,
            submission=submission,
        )
        if not rules.may_resolve_finding(request.user, finding):
            raise NotPermitted(review_services.MSG_RESOLVE_WHO)
        body = s.FindingResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        finding = review_services.finding_resolve(
            finding=finding, actor=request.user, reason=body.validated_data["reason"]
        )
        return Response(s.FindingSerializer(finding).data)

    @extend_schema(
        summary="Result deltas against the version this one supersedes, per evaluation domain",
        description=(
            "For a new version: each domain of its plan (and each the earlier version had a result in) with the "
            "score now and then and the change. For those who see this review's results (the office's side of "
            "it, a joint review's institute reviewers); the earlier version's side only for those who may see "
            "that version's own results (`then_hidden` says when it is left out). Not a new version: no domains."
        ),
        responses={200: s.VersionDeltasSerializer, **_errors(401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["get"], url_path="version-deltas")
    def version_deltas(self, request, pk=None):
        from submissions.selectors import version_deltas

        submission = self.get_object()
        if not rules.may_see_version_deltas(request.user, submission):
            raise NotPermitted("Result deltas are for those who see this review's results.")
        deltas = version_deltas(submission, request.user)
        data = {
            "supersedes": submission.supersedes_id,
            "supersedes_version": deltas["earlier"].model_version if deltas else None,
            "then_hidden": deltas["then_hidden"] if deltas else False,
            "hidden_benchmarks": deltas["hidden_benchmarks"] if deltas else 0,
            "domains": deltas["rows"] if deltas else [],
        }
        return Response(s.VersionDeltasSerializer(data).data)

    @extend_schema(
        summary="The determination: in full for the office, its released summary for others",
        responses={200: s.DeterminationAsReadSerializer, **_errors(401, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["get"])
    def determination(self, request, pk=None):
        submission = self.get_object()
        found = Determination.objects.filter(submission=submission).select_related("decided_by", "concurred_by").first()
        if rules.may_see_internal_review(request.user, submission):
            if found is None:
                return _not_found("No determination has been proposed or issued.")
            return Response(s.DeterminationSerializer(found, context={"request": request}).data)
        if found is None or found.issued_at is None:
            return _not_found("No determination has been issued.")
        return Response(s.DeterminationSummarySerializer(found).data)

    @extend_schema(
        summary="Propose to flag (the assigned lead; a second reviewer must concur)",
        request=s.ProposeFlagSerializer,
        responses={201: s.DeterminationSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["post"], url_path="determination/propose-flag")
    def propose_flag(self, request, pk=None):
        submission = self._office_submission()
        body = s.ProposeFlagSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        proposal = review_services.determination_propose_flag(
            submission=submission, actor=request.user, **body.validated_data
        )
        return Response(
            s.DeterminationSerializer(proposal, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Propose to clear against the evidence (the assigned lead; a justification per concern)",
        request=s.ProposeClearSerializer,
        responses={201: s.DeterminationSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["post"], url_path="determination/propose-clear")
    def propose_clear(self, request, pk=None):
        submission = self._office_submission()
        body = s.ProposeClearSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        proposal = review_services.determination_propose_clear(
            submission=submission, actor=request.user, **body.validated_data
        )
        return Response(
            s.DeterminationSerializer(proposal, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Concur with the proposal (a second assigned reviewer cleared for every finding)",
        request=s.ConcurSerializer,
        responses={200: s.DeterminationSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["post"], url_path="determination/concur")
    def concur(self, request, pk=None):
        submission = self._office_submission()
        proposal = get_object_or_404(Determination, submission=submission, issued_at__isnull=True)
        body = s.ConcurSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review_services.determination_concur(
            determination=proposal, actor=request.user, seen_digest=body.validated_data["proposal_digest"]
        )
        return Response(s.DeterminationSerializer(proposal, context={"request": request}).data)

    # --- government orders, weights publications, advisories ------------------------------------------

    @extend_schema(
        methods=["get"],
        summary="Government orders on this model, in force and lifted",
        responses={200: s.AccessOrderSerializer(many=True), **_errors(401, 404, 429)},
    )
    @extend_schema(
        methods=["post"],
        summary="Record a government order (administrators)",
        description=(
            "On a released model (or a cleared / past-window one with `deployed`) access is removed; on a "
            "model not yet released the order holds the release until it is lifted. The developer and the "
            "subscribed partners are told; for open weights, every notice says published weights cannot be recalled. "
            "An order is recorded once issued: one dated in the future is refused (400)."
        ),
        request=s.AccessOrderCreateSerializer,
        responses={201: s.AccessOrderSerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    )
    @action(detail=True, filter_backends=[], pagination_class=None, methods=["get", "post"], url_path="access-orders")
    def access_orders(self, request, pk=None):
        submission = self.get_object()
        context = {"request": request}
        if request.method == "GET":
            if not rules.may_view_access_orders(request.user, submission):
                raise NotPermitted("Orders are shown with the model, to those who may see it.")
            orders = submission.access_orders.select_related("recorded_by", "lifted_by", "submission")
            return Response(s.AccessOrderSerializer(orders, many=True, context=context).data)
        if not rules.may_record_access_removal(submission, request.user):
            raise NotPermitted(services.MSG_ORDERS)
        body = s.AccessOrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        deployed, expected = data.pop("deployed"), data.pop("expected_state", None)
        order = services.access_order_record(
            submission=submission, actor=request.user, data=data, deployed=deployed, expected_state=expected
        )
        return Response(s.AccessOrderSerializer(order, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Lift a government order (administrators): reinstatement",
        request=s.AccessOrderLiftSerializer,
        responses={200: s.AccessOrderSerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    )
    @action(detail=True, filter_backends=[], methods=["post"], url_path=r"access-orders/(?P<order_id>[0-9]+)/lift")
    def lift_access_order(self, request, pk=None, order_id=None):
        from submissions.models import AccessRemovalOrder

        submission = self.get_object()
        order = get_object_or_404(AccessRemovalOrder, pk=order_id, submission=submission)
        if not rules.may_record_access_removal(submission, request.user):
            raise NotPermitted(services.MSG_ORDERS)
        body = s.AccessOrderLiftSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = services.access_order_lift(order=order, actor=request.user, reason=body.validated_data["reason"])
        return Response(s.AccessOrderSerializer(order, context={"request": request}).data)

    @extend_schema(
        methods=["get"],
        summary="Where an open-weights model's weights were published (locations and file hashes)",
        responses={200: s.WeightsPublicationSerializer(many=True), **_errors(401, 404, 429)},
    )
    @extend_schema(
        methods=["post"],
        summary="Record where a weights file was published (the developer's staff, open weights)",
        request=s.WeightsPublicationCreateSerializer,
        responses={201: s.WeightsPublicationSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(
        detail=True, filter_backends=[], pagination_class=None, methods=["get", "post"], url_path="weights-publications"
    )
    def weights_publications(self, request, pk=None):
        submission = self.get_object()
        if request.method == "GET":
            return Response(s.WeightsPublicationSerializer(submission.weights_publications.all(), many=True).data)
        if not rules.may_record_weights_publication(request.user, submission):
            raise NotPermitted(services.MSG_PUBLICATIONS)
        body = s.WeightsPublicationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        publication = services.weights_publication_record(
            submission=submission, actor=request.user, **body.validated_data
        )
        return Response(s.WeightsPublicationSerializer(publication).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Withdraw a mistaken publication record, with the reason (the developer's staff)",
        request=s.WeightsPublicationWithdrawSerializer,
        responses={200: s.WeightsPublicationSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(
        detail=True,
        filter_backends=[],
        methods=["post"],
        url_path=r"weights-publications/(?P<publication_id>[0-9]+)/withdraw",
    )
    def withdraw_weights_publication(self, request, pk=None, publication_id=None):
        submission = self.get_object()
        publication = get_object_or_404(submission.weights_publications.all(), pk=publication_id)
        body = s.WeightsPublicationWithdrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        publication = services.weights_publication_withdraw(
            publication=publication, actor=request.user, reason=body.validated_data["reason"]
        )
        return Response(s.WeightsPublicationSerializer(publication).data)

    @extend_schema(
        methods=["get"],
        summary="Advisories on this model: issued ones; for the office, the one awaiting concurrence",
        responses={200: s.AdvisorySerializer(many=True), **_errors(401, 404, 429)},
    )
    @extend_schema(
        methods=["post"],
        summary="Propose an advisory on a released model (the review's lead; a second reviewer concurs)",
        request=s.AdvisoryCreateSerializer,
        responses={201: s.AdvisorySerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    )
    @action(detail=True, filter_backends=[], pagination_class=None, methods=["get", "post"])
    def advisories(self, request, pk=None):
        submission = self.get_object()
        context = {"request": request}
        if request.method == "GET":
            shown = submission.advisories.select_related("submission").prefetch_related("findings")
            if not rules.may_see_internal_review(request.user, submission):
                shown = shown.filter(issued_at__isnull=False)
            return Response(s.AdvisorySerializer(shown, many=True, context=context).data)
        if not rules.may_propose_advisory(request.user, submission):
            raise NotPermitted("Only the review's lead reviewer can propose an advisory, on a released model.")
        body = s.AdvisoryCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        advisory = review_services.advisory_propose(
            submission=submission,
            actor=request.user,
            text=body.validated_data["text"],
            findings=body.validated_data["findings"],
        )
        return Response(s.AdvisorySerializer(advisory, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Concur with an advisory, which issues it (a second assigned reviewer cleared for every finding)",
        request=s.AdvisoryConcurSerializer,
        responses={200: s.AdvisorySerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    )
    @action(detail=True, filter_backends=[], methods=["post"], url_path=r"advisories/(?P<advisory_id>[0-9]+)/concur")
    def concur_advisory(self, request, pk=None, advisory_id=None):
        from reviews.models import Advisory

        submission = self._office_submission()
        advisory = get_object_or_404(Advisory, pk=advisory_id, submission=submission)
        body = s.AdvisoryConcurSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review_services.advisory_concur(
            advisory=advisory, actor=request.user, seen_digest=body.validated_data["advisory_digest"]
        )
        return Response(s.AdvisorySerializer(advisory, context={"request": request}).data)

    def _evaluation_submission(self):
        """Results and findings: the office's review, and a joint review's institute reviewers
        (findings within their cap: scope_findings). Else 403, or 404 out of scope."""
        submission = self.get_object()
        if rules.may_see_joint_work(self.request.user, submission):
            return submission
        return self._office_submission()

    def _office_submission(self):
        """A submission whose internal review the caller takes part in (else 403, or 404)."""
        submission = self.get_object()
        if not rules.may_see_internal_review(self.request.user, submission) and not (
            self.request.method == "POST" and rules.may_assign_reviewers(self.request.user, submission)
        ):
            raise NotPermitted("This is the review office's own work on the submission.")
        return submission


def _not_found(message="Not found."):
    from .exceptions import error_response

    return error_response(404, message)


@extend_schema_view(
    list=extend_schema(
        summary="SLA breaches (administrators)",
        responses={200: s.SlaBreachSerializer(many=True), **ADMIN_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One SLA breach", responses={200: s.SlaBreachSerializer, **_errors(401, 403, 404, 429)}
    ),
)
class SlaBreachViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.SlaBreachSerializer
    permission_classes = [LiveAdministrators]

    def get_queryset(self):
        return (
            rules.scope_breaches(SlaBreach.objects.all(), self.request.user)
            .select_related("acknowledged_by", "submission")
            .order_by("-detected_at", "-pk")
        )

    @extend_schema(
        summary="Acknowledge a breach, saying why",
        request=s.AcknowledgeSerializer,
        responses={200: s.SlaBreachSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["post"])
    def acknowledge(self, request, pk=None):
        breach = self.get_object()
        body = s.AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review_clock.breach_acknowledge(breach=breach, actor=request.user, note=body.validated_data["note"])
        return Response(self.get_serializer(breach).data)


class SlaPolicyViewSet(viewsets.GenericViewSet):
    """The office's one SLA policy (administrators change it on the SLA policy admin page)."""

    serializer_class = s.SlaPolicySerializer
    queryset = SlaPolicy.objects.none()  # one row, read by SlaPolicy.current(); named for the schema
    pagination_class = None

    @extend_schema(
        operation_id="sla_policy_retrieve",
        summary="The SLA policy: targets and reminder offsets in days (office staff)",
        description=(
            "The office's working rules: targets for intake, assignment and the developer's answer, the "
            "days-left warnings, and when missing planned results are reminded to the reviewers, then "
            "escalated to the lead and to the administrators (0 turns a step off)."
        ),
        responses={200: s.SlaPolicySerializer, **_errors(401, 403, 429)},
    )
    def list(self, request):
        if not rules.may_view_sla_policy(request.user):
            raise NotPermitted("The SLA policy is the review office's.")
        return Response(self.get_serializer(SlaPolicy.current()).data)


@extend_schema_view(
    list=extend_schema(
        summary="Trusted partners (administrators)",
        responses={200: s.TrustedPartnerSerializer(many=True), **ADMIN_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One trusted partner", responses={200: s.TrustedPartnerSerializer, **_errors(401, 403, 404, 429)}
    ),
    create=extend_schema(
        summary="Add a trusted partner (the answer shows its webhook secret, once)",
        description="The organization is named by slug: one of the trusted-partner organizations here with no "
        "partner settings yet, else refused (400). A webhook URL's host name must resolve, to a public "
        "address, when it is saved: else refused with the reason (400).",
        request=s.TrustedPartnerSerializer,
        responses={201: s.TrustedPartnerCreatedSerializer, **_errors(400, 401, 403, 429)},
    ),
    partial_update=extend_schema(
        summary="Change a trusted partner",
        description="As when adding one: an organization slug of no trusted-partner organization here (or of "
        "one with partner settings already), or a webhook URL whose host name does not resolve to a public "
        "address, is refused with the reason (400).",
        responses={200: s.TrustedPartnerSerializer, **_errors(400, 401, 403, 404, 429)},
    ),
)
class TrustedPartnerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = s.TrustedPartnerSerializer
    permission_classes = [LiveAdministrators]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return (
            rules.scope_trusted_partners(TrustedPartner.objects.all(), self.request.user)
            .select_related("organization")
            .order_by("pk")
        )

    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        partner = TrustedPartner(**body.validated_data)
        services.configuration_save(actor=request.user, obj=partner)
        # The only time the secret is read back, besides a rotation.
        return Response(s.TrustedPartnerCreatedSerializer(partner).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        # Through the audited save: the change, from what to what, lands in the audit chain.
        partner = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(partner, field, value)
        services.configuration_save(actor=self.request.user, obj=partner)

    @extend_schema(
        summary="Rotate the webhook secret (the new one is shown once; each previous one keeps signing until its "
        "own overlap ends)",
        description="400 while too many previous secrets still sign: the message says when the first stops.",
        request=None,
        responses={200: s.SecretRotatedSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        partner = self.get_object()
        secret = partner_services.partner_secret_rotate(partner=partner, actor=request.user)
        return Response(_rotated(partner, secret))

    @extend_schema(
        summary="Revoke the previous webhook secrets early (after a leak): they stop signing now, and the "
        "partner's receiver rejects any message it checks with one of them; audited",
        description="Every previous secret still in its overlap stops signing at once; only the current secret "
        "signs the partner's webhooks from the next message on. It cannot be undone. 400 when no previous "
        "secret signs.",
        request=None,
        responses={200: s.SecretsRevokedSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["post"], url_path="revoke-previous-secrets")
    def revoke_previous_secrets(self, request, pk=None):
        revoked = partner_services.partner_previous_secrets_revoke(partner=self.get_object(), actor=request.user)
        return Response(s.SecretsRevokedSerializer({"revoked": revoked}).data)


@extend_schema_view(
    list=extend_schema(
        summary="Notification deliveries (administrators)",
        responses={200: s.DeliverySerializer(many=True), **ADMIN_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One delivery", responses={200: s.DeliverySerializer, **_errors(401, 403, 404, 429)}
    ),
)
class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.DeliverySerializer
    permission_classes = [LiveAdministrators]
    filterset_class = DeliveryFilter

    def get_queryset(self):
        return rules.scope_deliveries(Delivery.objects.select_related("event__submission"), self.request.user).order_by(
            "-next_attempt_at"
        )

    @extend_schema(
        summary="Send again, with the same webhook-id",
        description="A delivered or dead-lettered one is sent again; one still being tried, held for a digest, "
        "sent in a digest or a webhook test is refused with the reason (400).",
        request=None,
        responses={200: s.DeliverySerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = partner_services.delivery_redeliver(delivery=self.get_object(), actor=request.user)
        return Response(self.get_serializer(delivery).data)


@extend_schema_view(
    list=extend_schema(
        summary="Joint review invitations you may see (the office's; an institute's own)",
        responses={200: s.JointInvitationSerializer(many=True), **LIST_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One joint review invitation", responses={200: s.JointInvitationSerializer, **_errors(401, 404, 429)}
    ),
    create=extend_schema(
        summary="Invite an allied institute to an open review (administrators, the review's lead)",
        description="The institute is named by slug: a slug of no allied institute here is refused (400), as "
        "is an institute invited already or with no data-sharing arrangement in force. The review must be "
        "open (409).",
        request=s.JointInvitationCreateSerializer,
        responses={201: s.JointInvitationSerializer, **_errors(400, 401, 403, 404, 429, extra=CONFLICT)},
    ),
)
class JointInvitationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Joint reviews with allied institutes: the office invites, the institute answers."""

    serializer_class = s.JointInvitationSerializer
    filter_backends = []

    def get_queryset(self):
        from joint.models import JointReviewInvitation

        return (
            JointReviewInvitation.objects.visible_to(self.request.user)
            .select_related("submission__organization", "institute", "arrangement")
            .order_by("-invited_at", "-pk")
        )

    def create(self, request, *args, **kwargs):
        from joint import services as joint_services

        body = s.JointInvitationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        submission = get_object_or_404(ModelSubmission.objects.visible_to(request.user), pk=data["submission"])
        if not rules.runs_the_review(request.user, submission):
            raise NotPermitted(joint_services.MSG_INVITE)
        institute = rules.scope_allied_institutes(Organization.objects.all(), request.user).filter(
            slug=data["institute"]
        )
        found = institute.first()
        if found is None:
            raise ValidationError({"institute": ["No allied institute here has that slug."]})
        invitation = joint_services.invitation_create(
            actor=request.user, submission=submission, institute=found, note=data["note"]
        )
        return Response(s.JointInvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def _answer(self, accept: bool):
        from joint import services as joint_services

        invitation = joint_services.invitation_respond(
            actor=self.request.user, invitation=self.get_object(), accept=accept
        )
        return Response(s.JointInvitationSerializer(invitation).data)

    @extend_schema(
        summary="Accept for your institute (an institute reviewer, no conflict with the developer)",
        description="An invitation already answered or withdrawn, or whose arrangement is no longer in force, "
        "is refused (400).",
        request=None,
        responses={200: s.JointInvitationSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._answer(True)

    @extend_schema(
        summary="Decline for your institute",
        description="An invitation already answered or withdrawn is refused (400).",
        request=None,
        responses={200: s.JointInvitationSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._answer(False)

    @extend_schema(
        summary="Withdraw the invitation: the institute's access ends (administrators, the review's lead)",
        description="A pending or accepted invitation is withdrawn; one already answered or withdrawn (declined, "
        "withdrawn) is refused (400).",
        request=None,
        responses={200: s.JointInvitationSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        from joint import services as joint_services

        invitation = joint_services.invitation_withdraw(actor=request.user, invitation=self.get_object())
        return Response(s.JointInvitationSerializer(invitation).data)


@extend_schema_view(
    list=extend_schema(
        summary="Your organization's webhook endpoints (its integration managers)",
        responses={200: s.WebhookEndpointSerializer(many=True), **_errors(401, 403, 404, 429)},
    ),
    retrieve=extend_schema(
        summary="One webhook endpoint", responses={200: s.WebhookEndpointSerializer, **_errors(401, 403, 404, 429)}
    ),
    create=extend_schema(
        summary="Add a webhook endpoint (the answer shows its signing secret, once)",
        request=s.WebhookEndpointSerializer,
        responses={201: s.WebhookEndpointCreatedSerializer, **_errors(400, 401, 403, 429)},
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint: its URL, description, events, or turn it off (is_active)",
        responses={200: s.WebhookEndpointSerializer, **_errors(400, 401, 403, 404, 429)},
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint: nothing more is sent to it, its history goes with it",
        responses={204: None, **_errors(401, 403, 404, 429)},
    ),
)
class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A developer organization's own endpoints for events about its own submissions."""

    serializer_class = s.WebhookEndpointSerializer
    permission_classes = [IntegrationManagers]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filter_backends = []

    def get_queryset(self):
        return (
            rules.scope_webhook_endpoints(WebhookEndpoint.objects.all(), self.request.user)
            .select_related("organization", "created_by")
            .order_by("created_at", "pk")
        )

    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = integrations.endpoint_create(actor=request.user, **body.validated_data)
        # The only time the secret is read back.
        return Response(s.WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = integrations.endpoint_update(
            endpoint=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        integrations.endpoint_delete(endpoint=instance, actor=self.request.user)

    @extend_schema(
        summary="An endpoint's 50 most recent deliveries, newest first (status, attempts, next try, last error)",
        responses={200: s.EndpointDeliverySerializer(many=True), **_errors(401, 403, 404, 429)},
    )
    @action(detail=True, pagination_class=None, methods=["get"])
    def deliveries(self, request, pk=None):
        recent = integrations.endpoint_recent_deliveries(self.get_object())
        return Response(s.EndpointDeliverySerializer(recent, many=True).data)

    @extend_schema(
        summary="Send a webhook.test event to this endpoint only",
        request=None,
        responses={202: s.EndpointDeliverySerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        delivery = integrations.endpoint_test_send(endpoint=self.get_object(), actor=request.user)
        return Response(s.EndpointDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


def _rotated(partner, secret: str) -> dict:
    """The new secret (shown once) and every previous secret still signing, until when."""
    previous = partner.previous_secrets_signing(timezone.now())
    return s.SecretRotatedSerializer(
        {"webhook_secret": secret, "previous_secret_valid_until": previous[0].until, "previous_secrets": previous}
    ).data


def _integration(partner) -> dict:
    from partners import self_service

    partner.refresh_from_db()
    previous = partner.previous_secrets_signing(timezone.now())  # wall time, as the signatures are
    return {
        "organization": partner.organization.name,
        "webhook_url": partner.webhook_url,
        "is_active": partner.is_active,
        "paused": partner.is_paused,
        "paused_at": partner.paused_at,
        "paused_by": partner.paused_by.username if partner.paused_by_id else None,
        "waiting": self_service.backlog(partner).count() if partner.is_paused else 0,
        "previous_secret_valid_until": previous[0].until if previous else None,
        "current_secret_made_at": partner.webhook_secret_made_at,
        "previous_secrets": s.PreviousSecretSerializer(previous, many=True).data,
    }


class PartnerIntegrationViewSet(viewsets.GenericViewSet):
    """A trusted partner's own webhooks: their state, a test, pause and resume, a new secret.

    The caller's own organization's only (accounts.rules.partner_settings_of); the services
    ask the rules again and write the office's audit trail."""

    permission_classes = [PartnerStaff]
    serializer_class = s.PartnerIntegrationSerializer
    queryset = TrustedPartner.objects.none()  # the caller's own, from the rules; named for the schema
    pagination_class = None
    filter_backends = []

    def _partner(self):
        return rules.partner_settings_of(self.request.user)

    @extend_schema(
        operation_id="partner_integration_retrieve",
        summary="Your organization's webhooks: endpoint, paused or not, waiting deliveries, secret overlap "
        "(a partner's staff)",
        responses={200: s.PartnerIntegrationSerializer, **_errors(401, 403, 429)},
    )
    def list(self, request):
        return Response(_integration(self._partner()))

    @extend_schema(
        operation_id="partner_integration_test",
        summary="Send a signed webhook.test to your endpoint, tried once (its result: GET /partner/deliveries/)",
        request=None,
        responses={202: s.PartnerDeliverySerializer, **_errors(400, 401, 403, 429)},
    )
    @action(detail=False, methods=["post"])
    def test(self, request):
        from partners import self_service

        delivery = self_service.partner_webhook_test(partner=self._partner(), actor=request.user)
        return Response(s.PartnerDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="partner_integration_pause",
        summary="Pause your webhooks: still recorded, none tried (so none dead-lettered) until you resume",
        request=None,
        responses={200: s.PartnerIntegrationSerializer, **_errors(400, 401, 403, 429)},
    )
    @action(detail=False, methods=["post"])
    def pause(self, request):
        from partners import self_service

        partner = self_service.partner_pause(partner=self._partner(), actor=request.user)
        return Response(_integration(partner))

    @extend_schema(
        operation_id="partner_integration_resume",
        summary="Resume your webhooks: the waiting ones go out oldest first",
        request=None,
        responses={200: s.PartnerResumedSerializer, **_errors(400, 401, 403, 429)},
    )
    @action(detail=False, methods=["post"])
    def resume(self, request):
        from partners import self_service

        partner = self._partner()
        waiting = self_service.partner_resume(partner=partner, actor=request.user)
        return Response({"waiting": waiting, "integration": _integration(partner)})

    @extend_schema(
        operation_id="partner_integration_rotate_secret",
        summary="Rotate your webhook secret (the new one is shown once; each previous one keeps signing until its "
        "own overlap ends)",
        description="400 while too many previous secrets still sign: the message says when the first stops.",
        request=None,
        responses={200: s.SecretRotatedSerializer, **_errors(400, 401, 403, 429)},
    )
    @action(detail=False, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request):
        partner = self._partner()
        secret = partner_services.partner_secret_rotate(partner=partner, actor=request.user)
        return Response(_rotated(partner, secret))

    @extend_schema(
        operation_id="partner_integration_revoke_previous_secrets",
        summary="Revoke your previous webhook secrets early (after a leak): they stop signing now, and a receiver "
        "checking with one of them rejects every message; audited",
        description="Every previous secret still in its overlap stops signing at once; only the current secret "
        "signs your webhooks from the next message on. It cannot be undone: switch your receiver to the current "
        "secret first, unless a secret leaked. 400 when no previous secret signs.",
        request=None,
        responses={200: s.PartnerSecretsRevokedSerializer, **_errors(400, 401, 403, 429)},
    )
    @action(detail=False, methods=["post"], url_path="revoke-previous-secrets")
    def revoke_previous_secrets(self, request):
        partner = self._partner()
        revoked = partner_services.partner_previous_secrets_revoke(partner=partner, actor=request.user)
        return Response(
            {"revoked": s.PreviousSecretSerializer(revoked, many=True).data, "integration": _integration(partner)}
        )


@extend_schema_view(
    list=extend_schema(
        operation_id="partner_deliveries_list",
        summary="Your organization's deliveries, newest first, with their attempt logs (a partner's staff)",
        responses={200: s.PartnerDeliverySerializer(many=True), **ADMIN_LIST_ERRORS},
    ),
    retrieve=extend_schema(
        operation_id="partner_deliveries_retrieve",
        summary="One of your organization's deliveries",
        responses={200: s.PartnerDeliverySerializer, **_errors(401, 403, 404, 429)},
    ),
)
class PartnerDeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.PartnerDeliverySerializer
    permission_classes = [PartnerStaff]
    filterset_class = DeliveryFilter

    def get_queryset(self):
        user = self.request.user
        return rules.scope_partner_deliveries(
            Delivery.objects.select_related("event").prefetch_related("attempt_log"),
            user,
            rules.partner_settings_of(user),
        ).order_by("-next_attempt_at", "pk")

    @extend_schema(
        operation_id="partner_deliveries_redeliver",
        summary="Send a delivered or dead-lettered one again, with the same webhook-id "
        "(held and digested ones are refused, with the reason)",
        request=None,
        responses={200: s.PartnerDeliverySerializer, **_errors(400, 401, 403, 404, 429)},
    )
    @action(detail=True, filter_backends=[], methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = partner_services.delivery_redeliver(delivery=self.get_object(), actor=request.user)
        return Response(self.get_serializer(delivery).data)


class ConflictCheckView(APIView):
    """Whether a reviewer has a conflict of interest with organizations, and why.

    The answer is accounts.rules' (conflict_reasons, the same rule assignments obey);
    those who assign reviewers may ask, about the people and organizations of their world.
    """

    @extend_schema(
        operation_id="conflict_check",
        summary="Check a reviewer for conflicts of interest (administrators, lead reviewers)",
        description="The reviewer (a username) and the organizations (slugs) must exist in your world: a name "
        "of no one, or of another world, is refused (400).",
        parameters=[s.ConflictCheckQuerySerializer],
        responses={200: s.ConflictCheckSerializer, **_errors(400, 401, 403, 429)},
    )
    def get(self, request):
        if not rules.may_check_conflicts(request.user):
            raise NotPermitted("Only those who assign reviewers may check conflicts of interest.")
        query = s.ConflictCheckQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        reviewer, organizations = query.validated_data["reviewer"], query.validated_data["organization"]
        reasons = rules.conflict_reasons([reviewer], organizations)
        answers = [
            {
                "organization": org.slug,
                "name": org.name,
                "conflicted": bool(reasons.get((reviewer.pk, org.pk))),
                "reasons": reasons.get((reviewer.pk, org.pk), []),
            }
            for org in organizations
        ]
        return Response(
            {
                "reviewer": reviewer.username,
                "conflicted": any(a["conflicted"] for a in answers),
                "organizations": answers,
            }
        )


class ReleaseGateView(APIView):
    """May this model, version and channel be released? The lab's pipeline asks; the answer is
    advisory (the framework imposes no preclearance) and read from the caller's own scope."""

    @extend_schema(
        operation_id="release_gate",
        summary="Ask the release gate about a model, version and release channel (advisory)",
        description=(
            "permitted (cleared, or the review window elapsed), not_yet (under review, with the "
            "deadline), blocked (flagged, or access removed) or unknown (never submitted, withdrawn, "
            "or not yours to know about). When several organizations you can see filed this model and "
            "version, name one (`organization`), else refused (400). `caisi-gate` (clients/caisi-gate) asks "
            "this from a CI step and exits non-zero unless release is permitted."
        ),
        parameters=[s.ReleaseGateQuerySerializer],
        responses={200: s.ReleaseGateSerializer, **_errors(400, 401, 403, 429)},
    )
    def get(self, request):
        from submissions.release_gate import AmbiguousModel, release_gate

        if not rules.may_check_release_gate(request.user):
            raise NotPermitted("The release gate answers developer staff about their own models, and the office.")
        query = s.ReleaseGateQuerySerializer(data=request.query_params)
        refuse_empty_parameters(request.query_params, query.fields)
        query.is_valid(raise_exception=True)
        try:
            gate = release_gate(request.user, **query.validated_data)
        except AmbiguousModel as exc:
            raise ValidationError({"organization": [str(exc)]}) from exc
        determination = gate.determination
        link = None
        if gate.submission is not None:
            link = request.build_absolute_uri(reverse("submissions:detail", args=[gate.submission.pk]))
        answer = {
            "answer": gate.answer.value,
            "label": gate.answer.label,
            "permitted": gate.permitted,
            "reason": gate.reason,
            "advisory": gate.advisory,
            "model": gate.model,
            "version": gate.version,
            "channel": gate.channel,
            "submission": gate.submission.pk if gate.submission else None,
            "state": gate.submission.state if gate.submission else None,
            "link": link,
            "deadline_at": gate.deadline_at,
            "release_conditions": determination.release_conditions if determination else "",
            "determination": determination,
            "checked_at": gate.checked_at,
        }
        response = Response(s.ReleaseGateSerializer(answer).data)
        # A pipeline must never act on a cached answer.
        response["Cache-Control"] = "no-store"
        return response


@csrf_exempt  # it changes nothing; a POST to an unknown path must still get the API's 404
def api_not_found(request, *args, **kwargs):
    from caisi_portal.web import json_error

    return json_error(404, "not_found", "Not found.")
