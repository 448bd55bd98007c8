"""What the API reads and accepts. Writes go through the services, never serializer.save()."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts import rules
from accounts.models import Clearance
from caisi_portal.ids import MAX_ID
from partners.models import Delivery, DeveloperEventType, PartnerEventType, TrustedPartner, WebhookEndpoint
from reviews.models import (
    Advisory,
    Assignment,
    AssignmentHandover,
    Determination,
    EvaluationDomain,
    EvaluationResult,
    Finding,
)
from reviews.services import assignment_clearance_gap
from submissions.models import (
    AccessRemovalOrder,
    Agreement,
    Artifact,
    AuditEntry,
    ModelSubmission,
    Organization,
    ReleaseChannel,
    ReviewClock,
    SlaBreach,
    SlaObligation,
    SlaPolicy,
    State,
    WeightsPublication,
)
from submissions.services import AGREEMENT_ACTIONS, DRAFT_FIELDS, MSG_AGREEMENT_NOTE


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable code, e.g. 'conflict'.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    details = serializers.DictField(help_text="Field messages, reasons, or the current state.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "kind", "is_simulated"]


class AgreementSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True)

    class Meta:
        model = Agreement
        fields = [
            "id",
            "organization",
            "status",
            "review_window_days",
            "negotiation_started_on",
            "signed_on",
            "suspended_on",
            "terminated_on",
        ]
        read_only_fields = fields


class AgreementStatusSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(AGREEMENT_ACTIONS.items()))
    note = serializers.CharField(
        max_length=2000,
        error_messages={"required": MSG_AGREEMENT_NOTE, "blank": MSG_AGREEMENT_NOTE},
        help_text="Why the agreement changes, in words (kept in its history and the audit trail).",
    )
    open_reviews = serializers.DictField(
        child=serializers.ChoiceField(choices=["continue", "withdraw"]),
        required=False,
        default=dict,
        help_text="suspend, terminate: for every open review of the organization, its submission id -> "
        "`continue` (a notice to the developer and reviewers) or `withdraw` (the review ends). "
        "Required when there are open reviews; a missing one is refused (400).",
    )


class AgreementWindowSerializer(serializers.Serializer):
    review_window_days = serializers.IntegerField(min_value=1, max_value=30)


class SubmissionSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True)
    # Fields anyone who may see the submission at all may read (trusted partners included).
    PUBLIC_FIELDS = ("id", "organization", "model_name", "model_version", "release_channel", "state", "released_at")

    class Meta:
        model = ModelSubmission
        fields = [
            "id",
            "organization",
            "model_name",
            "model_version",
            "release_channel",
            "planned_release_date",
            "capabilities",
            "intended_use",
            "training_compute_flops",
            "evaluator_access",
            "state",
            "created_at",
            "submitted_at",
            "released_at",
            "released_after_flag",
            "release_note",
            "access_removed_at",
            "published_at",
            "is_simulated",
            "supersedes",
        ]
        read_only_fields = fields
        extra_kwargs = {"supersedes": {"help_text": "The earlier version this one supersedes (its id), or null."}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        user = self.context["request"].user
        if rules.is_developer_of(user, instance.organization_id) or rules.is_office_staff(user):
            return data
        return {key: value for key, value in data.items() if key in self.PUBLIC_FIELDS}


class ClosedBody(serializers.Serializer):
    """A request body whose unknown fields are refused (400), not ignored: a misspelt field must
    not vanish before the service sees it. Each says how in its `validate`; the schema says
    `additionalProperties: false` (ClosedBodyScheme)."""


class ClosedBodyScheme(OpenApiSerializerExtension):
    target_class = ClosedBody
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


class SubmissionWriteSerializer(ClosedBody):
    """A draft's fields. On create the model name, version and channel are required."""

    model_name = serializers.CharField(max_length=200)
    model_version = serializers.CharField(max_length=100)
    release_channel = serializers.ChoiceField(choices=ReleaseChannel.choices)
    planned_release_date = serializers.DateField(required=False, allow_null=True)
    capabilities = serializers.CharField(required=False, allow_blank=True, max_length=50000)
    intended_use = serializers.CharField(required=False, allow_blank=True, max_length=50000)
    training_compute_flops = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1e40)
    evaluator_access = serializers.CharField(required=False, allow_blank=True, max_length=50000)
    supersedes = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="A new version: the id of the earlier version of the same model it supersedes (your "
        "organization's, its review ended). Null: not a new version.",
    )

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(DRAFT_FIELDS) if isinstance(self.initial_data, dict) else set()
        if unknown:
            raise serializers.ValidationError({key: ["This field cannot be set."] for key in sorted(unknown)})
        return attrs


class ArtifactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Artifact
        fields = ["id", "kind", "original_name", "size", "content_type", "sha256", "uploaded_at"]
        read_only_fields = fields


class ArtifactUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Artifact.Kind.choices)
    file = serializers.FileField(help_text="PDF, Markdown, plain text, JSON or CSV.")


class TransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    target = serializers.CharField(help_text="The state it leads to ('*' when it returns to a previous one).")


class ChecklistSerializer(serializers.Serializer):
    cards_received = serializers.BooleanField(default=False)
    access_confirmed = serializers.BooleanField(default=False)
    release_plan_confirmed = serializers.BooleanField(default=False)


class TransitionRequestSerializer(ClosedBody):
    """One body for every transition; each takes only the fields it declares (submissions/transitions.py):
    a field of another transition is refused with 400, naming the fields this one takes."""

    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    expected_state = serializers.ChoiceField(
        choices=State.choices, required=False, help_text="Refuse with 409 if the submission has moved on since."
    )
    checklist = ChecklistSerializer(required=False, help_text="accept: the intake checklist.")
    domains = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=EvaluationDomain.objects.all(),
        many=True,
        required=False,
        help_text="accept: evaluation domains to plan (default: every active domain).",
    )
    questions = serializers.CharField(required=False, max_length=20000, help_text="request_information")
    answer = serializers.CharField(required=False, max_length=50000, help_text="answer_information_request")
    rationale = serializers.CharField(required=False, max_length=20000, help_text="clear")
    release_conditions = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    partner_summary = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    released_at = serializers.DateTimeField(required=False, help_text="record_release (default: now)")
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, help_text="record_release")
    reference = serializers.CharField(required=False, max_length=200, help_text="remove_access: the order's reference")
    issued_on = serializers.DateField(required=False, help_text="remove_access: the date of the order")
    authority = serializers.CharField(required=False, max_length=200, help_text="remove_access: who issued it")
    scope = serializers.ChoiceField(
        required=False, choices=AccessRemovalOrder.Scope.choices, help_text="remove_access: what it covers"
    )
    scope_description = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, help_text="remove_access: what it covers, in its terms"
    )
    reason = serializers.CharField(required=False, max_length=5000, help_text="reinstate_access: why it is lifted")
    window_days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=30,
        help_text="accept, a new version's re-review: its window in days from submission, at most the agreement's.",
    )

    def validate(self, attrs):
        # A misspelt field ("relased_at") must not vanish before the transition sees it: an
        # irreversible step taken with its date or note silently dropped is worse than a 400.
        unknown = sorted(set(self.initial_data) - set(self.fields)) if hasattr(self.initial_data, "keys") else []
        if unknown:
            message = f"Unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}."
            raise serializers.ValidationError({key: [message] for key in unknown})
        return attrs


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    label = serializers.CharField(read_only=True)

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "action", "label", "from_state", "to_state", "actor", "comment"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_actor(self, entry):
        """The username, for the office; a developer sees the office's steps as "Review office"."""
        if not entry.actor_id:
            return None
        viewer = self.context["request"].user
        if rules.is_office_staff(viewer) or rules.is_developer_of(entry.actor, entry.submission.organization_id):
            return entry.actor.get_username()
        return rules.actor_as_shown_to(viewer, entry.actor, entry.submission)


class HandoverSerializer(serializers.ModelSerializer):
    """An assignment the office ended: who left, who took over (null: no one), and the note."""

    reviewer = serializers.CharField(source="reviewer.username", read_only=True, help_text="Who left the review.")
    handed_to = serializers.CharField(
        source="handed_to.username", read_only=True, allow_null=True, help_text="Who took over; null: no one."
    )
    ended_by = serializers.CharField(source="ended_by.username", read_only=True)

    class Meta:
        model = AssignmentHandover
        fields = ["id", "reviewer", "role", "handed_to", "note", "ended_by", "ended_at"]


class AssignmentSerializer(serializers.ModelSerializer):
    """`context["clearance_needed"]`: the review's needed clearance, read once for the list."""

    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    handover = HandoverSerializer(
        read_only=True,
        allow_null=True,
        help_text="The handover this reviewer took the assignment over by, with its note; null: assigned directly.",
    )
    clearance_gap = serializers.SerializerMethodField(
        help_text="Why this reviewer, cleared below what the review's evidence needs, cannot see all of it nor "
        "concur on it; null when they are cleared for it all."
    )

    class Meta:
        model = Assignment
        fields = ["id", "reviewer", "role", "assigned_at", "clearance_gap", "handover"]

    def get_clearance_gap(self, assignment) -> str | None:
        return assignment_clearance_gap(
            submission=assignment.submission, reviewer=assignment.reviewer, needed=self.context.get("clearance_needed")
        )


# An empty slug is read as "none" and refused (SlugRelatedField): the schema says it cannot be empty.
@extend_schema_field({"type": "string", "minLength": 1})
class InCallersWorld(serializers.SlugRelatedField):
    """A choice among rows of the caller's world, computed for each request (never at import).

    Someone outside the caller's world is "does not exist", exactly like a name nobody has.
    """

    def __init__(self, *, scope, **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return self.scope(request.user) if request is not None else self.scope(None)


def _assignable_reviewers(user):
    return rules.reviewer_candidates(rules.world_of(user))


ACKNOWLEDGE_HELP = (
    "true: assign even though the reviewer is cleared below what the review's evidence needs (they will not see "
    "it nor concur on it). Without it such an assignment is refused (400) with the reason."
)


class AssignmentCreateSerializer(serializers.Serializer):
    reviewer = InCallersWorld(slug_field="username", scope=_assignable_reviewers)
    role = serializers.ChoiceField(choices=Assignment.Role.choices, default=Assignment.Role.MEMBER)
    acknowledge_clearance_gap = serializers.BooleanField(default=False, help_text=ACKNOWLEDGE_HELP)


class EvaluationResultSerializer(serializers.ModelSerializer):
    domain = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    benchmark = serializers.CharField(source="version.benchmark.slug", read_only=True)
    benchmark_name = serializers.CharField(source="version.benchmark.name", read_only=True)
    version = serializers.IntegerField(source="version_id", read_only=True, help_text="The benchmark version's id.")
    version_label = serializers.CharField(source="version.label", read_only=True)
    classification = serializers.CharField(source="version.get_classification_display", read_only=True)
    levels_applied = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The version's policy levels the score was judged by, as they stood when it was recorded.",
    )
    level = serializers.CharField(read_only=True, help_text="The highest level reached; empty: none.")
    above_your_clearance = serializers.SerializerMethodField(
        help_text="Always false here; hidden results are listed with only their domain (see the list's description)."
    )
    institute = serializers.CharField(
        source="institute.name",
        read_only=True,
        allow_null=True,
        help_text="The allied institute whose reviewer recorded it (a joint review); null: the review office.",
    )

    class Meta:
        model = EvaluationResult
        fields = [
            "id",
            "domain",
            "benchmark",
            "benchmark_name",
            "version",
            "version_label",
            "classification",
            "score",
            "levels_applied",
            "level",
            "outcome",
            "summary",
            "recorded_at",
            "institute",
            "above_your_clearance",
        ]

    def get_above_your_clearance(self, result) -> bool:
        return False


class HiddenResultSerializer(serializers.Serializer):
    """A result on a benchmark above the reader's clearance: that it exists, and its domain."""

    domain = serializers.CharField()
    above_your_clearance = serializers.BooleanField(default=True)


class EvaluationResultListSerializer(serializers.Serializer):
    results = EvaluationResultSerializer(many=True, help_text="The results you are cleared for.")
    above_your_clearance = HiddenResultSerializer(
        many=True, help_text="Results on benchmarks above your clearance: their domain only."
    )


def refuse_computed_result_fields(sent) -> None:
    """A client written for the old API still sends a threshold, and one may echo a result's outcome
    or level back: refuse them rather than ignore them, so nobody believes their value was used."""
    from reviews.services import COMPUTED_RESULT_FIELDS

    typed = {field: [message] for field, message in COMPUTED_RESULT_FIELDS.items() if field in sent}
    if typed:
        raise serializers.ValidationError(typed)


class ScoreBody(serializers.Serializer):
    """A body that records a score: what the portal computes from it is refused when sent
    (refuse_computed_result_fields), and the schema says those fields must be absent (ScoreBodyScheme)."""


class ScoreBodyScheme(OpenApiSerializerExtension):
    target_class = ScoreBody
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        from reviews.services import COMPUTED_RESULT_FIELDS

        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            for field in COMPUTED_RESULT_FIELDS:
                schema["properties"][field] = {"not": {}, "description": "Computed by the portal: refused when sent."}
        return schema


class EvaluationResultCreateSerializer(ScoreBody):
    version = serializers.IntegerField(
        help_text="The planned benchmark version scored (its id, from the plan or the catalog)."
    )
    score = serializers.DecimalField(max_digits=9, decimal_places=3)
    inconclusive = serializers.BooleanField(default=False)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=20000, default="")

    def validate(self, data):
        refuse_computed_result_fields(self.initial_data)
        return data


class PlanVersionsSerializer(serializers.Serializer):
    domain = serializers.SlugRelatedField(slug_field="slug", queryset=EvaluationDomain.objects.all())
    versions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        max_length=50,
        help_text="The benchmark versions (ids) to plan.",
    )


class PlanItemSerializer(serializers.Serializer):
    domain = serializers.CharField(source="domain.slug")
    versions = serializers.ListField(
        child=serializers.IntegerField(), help_text="Planned versions you are cleared for."
    )
    above_your_clearance = serializers.IntegerField(help_text="Planned versions above your clearance (not named).")


class InspectLogUploadSerializer(ScoreBody):
    log = serializers.FileField(
        help_text="An Inspect evaluation log (.eval or .json). Its task names the planned benchmark version; "
        "the version's metric is the score."
    )

    def validate(self, data):
        refuse_computed_result_fields(self.initial_data)
        return data


class FindingSerializer(serializers.ModelSerializer):
    domain = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    classification = serializers.CharField(source="get_classification_display", read_only=True)
    has_evidence = serializers.SerializerMethodField()
    carried_from_submission = serializers.SerializerMethodField()
    institute = serializers.CharField(
        source="institute.name",
        read_only=True,
        allow_null=True,
        help_text="The allied institute whose reviewer recorded it (a joint review); null: the review office.",
    )

    class Meta:
        model = Finding
        fields = [
            "institute",
            "id",
            "domain",
            "severity",
            "classification",
            "title",
            "description",
            "recommendation",
            "has_evidence",
            "recorded_at",
            "carried_from",
            "carried_from_submission",
            "resolved_at",
            "resolution",
        ]
        extra_kwargs = {
            "carried_from": {
                "help_text": "Carried forward from this finding of the earlier version (its id), or null."
            },
            "resolution": {"help_text": "Why a carried finding no longer holds for this version (once resolved)."},
        }

    def get_has_evidence(self, finding) -> bool:
        return bool(finding.evidence)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_carried_from_submission(self, finding):
        """The earlier version (submission id) a carried finding came from."""
        return finding.carried_from.submission_id if finding.carried_from_id else None


class FindingResolveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why the finding no longer holds for this version.")


class DeltaResultSerializer(serializers.Serializer):
    version = serializers.CharField(source="version.label")
    score = serializers.DecimalField(max_digits=9, decimal_places=3)
    levels_applied = serializers.DictField(child=serializers.CharField())
    level = serializers.CharField()
    outcome = serializers.CharField()


class VersionDeltaSerializer(serializers.Serializer):
    domain = serializers.CharField(source="domain.slug")
    domain_name = serializers.CharField(source="domain.name")
    benchmark = serializers.CharField(source="benchmark.slug")
    benchmark_name = serializers.CharField(source="benchmark.name")
    now = DeltaResultSerializer(allow_null=True, help_text="This version's result; null: none yet.")
    then = DeltaResultSerializer(
        allow_null=True, help_text="The earlier version's result; null: none, or not shown to you (then_hidden)."
    )
    change = serializers.DecimalField(
        max_digits=10,
        decimal_places=3,
        allow_null=True,
        help_text="Score now minus score then, when both are shown and were measured by the same version.",
    )
    versions_differ = serializers.BooleanField(help_text="Both shown, but measured by different versions.")
    outcome_changed = serializers.BooleanField()
    planned = serializers.BooleanField(help_text="This review plans the benchmark (false: no result is to come now).")


class VersionDeltasSerializer(serializers.Serializer):
    supersedes = serializers.IntegerField(allow_null=True, help_text="The earlier version's id; null: none.")
    supersedes_version = serializers.CharField(allow_null=True)
    then_hidden = serializers.BooleanField(
        help_text="True when you may not see the earlier version's own results: its side is left out."
    )
    hidden_benchmarks = serializers.IntegerField(help_text="Benchmarks above your clearance, left out.")
    domains = VersionDeltaSerializer(many=True, help_text="One row per benchmark either version has a result on.")


class FindingCreateSerializer(serializers.Serializer):
    domain = serializers.SlugRelatedField(slug_field="slug", queryset=EvaluationDomain.objects.all())
    severity = serializers.ChoiceField(choices=Finding.Severity.choices)
    classification = serializers.ChoiceField(choices=[(c.label, c.label) for c in Clearance])
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=50000)
    recommendation = serializers.CharField(required=False, allow_blank=True, max_length=20000, default="")


class DeterminationSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.username", read_only=True)
    concurred_by = serializers.CharField(source="concurred_by.username", read_only=True, allow_null=True)
    digest = serializers.CharField(
        read_only=True, help_text="Send it back when concurring: a proposal changed since is not agreed to."
    )
    concurrence_holds = serializers.BooleanField(read_only=True)
    contributing_institutes = serializers.SerializerMethodField(
        help_text="A joint review: the allied institutes whose reviewers recorded results or findings (public names)."
    )
    justifications = serializers.SerializerMethodField(
        help_text="A clearance against the evidence: the written reason per concern (by its key), for the concerns "
        "whose evidence you are cleared for."
    )
    justifications_above_your_clearance = serializers.SerializerMethodField(
        help_text="How many justifications were written for concerns whose evidence is above your clearance "
        "(left out of `justifications`)."
    )

    class Meta:
        model = Determination
        fields = [
            "contributing_institutes",
            "outcome",
            "rationale",
            "release_conditions",
            "partner_summary",
            "decided_by",
            "concurred_by",
            "proposed_at",
            "concurred_at",
            "issued_at",
            "justifications",
            "justifications_above_your_clearance",
            "digest",
            "concurrence_holds",
        ]

    def get_contributing_institutes(self, determination) -> list[str]:
        return sorted(o.shown_publicly for o in determination.contributing_institutes.all())

    def _shown(self, determination) -> dict:
        """Asked once per determination: the justifications the request's reader may read
        (none without a reader: closed by default)."""
        from django.contrib.auth.models import AnonymousUser

        from reviews import evidence

        cache = self.context.setdefault("_justifications_shown", {})
        if determination.pk not in cache:
            request = self.context.get("request")
            reader = getattr(request, "user", None) or AnonymousUser()
            cache[determination.pk] = evidence.justifications_shown(determination, reader)
        return cache[determination.pk]

    def get_justifications(self, determination) -> dict[str, str]:
        return self._shown(determination)

    def get_justifications_above_your_clearance(self, determination) -> int:
        from reviews import evidence

        return evidence.justifications_withheld(determination, self._shown(determination))


class DeterminationSummarySerializer(serializers.ModelSerializer):
    """What the developer and partners are told: no rationale, no names (of people)."""

    contributing_institutes = serializers.SerializerMethodField(
        help_text="A joint review: the allied institutes whose reviewers recorded results or findings (public names)."
    )

    class Meta:
        model = Determination
        fields = ["outcome", "partner_summary", "release_conditions", "issued_at", "contributing_institutes"]

    def get_contributing_institutes(self, determination) -> list[str]:
        return sorted(o.shown_publicly for o in determination.contributing_institutes.all())


class DeterminationAsReadSerializer(serializers.Serializer):
    """For the schema only: GET .../determination/ answers the office the determination in full
    (DeterminationSerializer) and everyone else its released summary (DeterminationSummarySerializer).
    Described by DeterminationAsReadScheme below: either one."""


class DeterminationAsReadScheme(OpenApiSerializerExtension):
    target_class = DeterminationAsReadSerializer

    def map_serializer(self, auto_schema, direction):
        # anyOf, not oneOf: the full determination carries every field of the summary, so it
        # matches both shapes.
        shapes = (DeterminationSerializer, DeterminationSummarySerializer)
        return {"anyOf": [auto_schema.resolve_serializer(shape, direction).ref for shape in shapes]}


class ProposeFlagSerializer(serializers.Serializer):
    rationale = serializers.CharField(max_length=20000)
    partner_summary = serializers.CharField(
        max_length=20000, help_text="What the developer and trusted partners are told (never empty)."
    )
    release_conditions = serializers.CharField(required=False, allow_blank=True, max_length=20000, default="")


class ProposeClearSerializer(ProposeFlagSerializer):
    justifications = serializers.DictField(
        child=serializers.CharField(max_length=20000),
        required=False,
        default=dict,
        help_text="One written reason per concern, by its key: a result's is result-<domain slug>-<benchmark "
        "version id> (a domain may have several versions planned, each result its own concern; a result "
        "recorded before the benchmark catalog keeps result-<domain slug>), a finding's finding-<id>. A "
        "refusal names each concern left without one as justify_<key> in its details.",
    )


class ConcurSerializer(serializers.Serializer):
    proposal_digest = serializers.CharField(
        max_length=64,
        help_text="The proposal's `digest` as read (GET .../determination/): refused if the text or the evidence "
        "has changed since, so nobody agrees to something they have not read.",
    )


class ClockPauseSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()


class ReviewClockSerializer(serializers.ModelSerializer):
    pauses = ClockPauseSerializer(many=True, read_only=True)
    remaining_seconds = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField()

    class Meta:
        model = ReviewClock
        fields = [
            "status",
            "started_at",
            "window",
            "deadline_at",
            "paused_total",
            "remaining_seconds",
            "explanation",
            "pauses",
        ]

    def get_remaining_seconds(self, clock) -> int:
        return int(clock.remaining(self.context["now"]).total_seconds())

    def get_explanation(self, clock) -> str:
        from submissions.review_clock import describe_remaining

        return describe_remaining(clock, self.context["now"])


class SlaBreachSerializer(serializers.ModelSerializer):
    submission = serializers.PrimaryKeyRelatedField(read_only=True)
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", read_only=True, allow_null=True)

    class Meta:
        model = SlaBreach
        fields = [
            "id",
            "submission",
            "kind",
            "due_at",
            "detected_at",
            "acknowledged_by",
            "acknowledged_at",
            "acknowledgement_note",
        ]


class SlaObligationSerializer(serializers.ModelSerializer):
    """One target of the office's SLA on a submission: what is owed, by when, and whether it was met."""

    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    status = serializers.SerializerMethodField(
        help_text="open: still owed; met: closed by its due time; breached: missed (recorded by the sweep, or "
        "closed after its due time)."
    )

    class Meta:
        model = SlaObligation
        fields = ["id", "kind", "kind_label", "due_at", "opened_at", "closed_at", "breached_at", "status"]

    def get_status(self, obligation) -> str:
        if obligation.breached_at is not None or (
            obligation.closed_at is not None and obligation.closed_at > obligation.due_at
        ):
            return "breached"
        return "met" if obligation.closed_at is not None else "open"


# One policy, answered at the collection's URL: an object, not a list of one.
@extend_schema_serializer(many=False)
class SlaPolicySerializer(serializers.ModelSerializer):
    """The office's SLA targets and reminder offsets, in days."""

    class Meta:
        model = SlaPolicy
        fields = [
            "intake_decision_days",
            "reviewer_assignment_days",
            "developer_answer_days",
            "warning_days",
            "reminder_days",
            "escalate_lead_days",
            "escalate_admin_days",
            "information_pause_cap_days",
            "pause_cap_warning_days",
        ]
        read_only_fields = fields


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000)


class TrustedPartnerSerializer(serializers.ModelSerializer):
    organization = InCallersWorld(
        slug_field="slug",
        scope=lambda user: (
            rules.scope_partner_organizations(Organization.objects.all(), user)
            if user is not None
            else Organization.objects.none()
        ),
    )
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=PartnerEventType.choices))

    def validate_webhook_url(self, value):
        from partners import destinations

        reason = destinations.problem(value)
        if reason:
            raise serializers.ValidationError(reason)
        return value

    def validate_organization(self, value):
        others = TrustedPartner.objects.filter(organization=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(f"{value} already has partner settings: change those instead.")
        return value

    def validate_emails(self, value):
        from partners.models import email_problems

        problems = email_problems(value)
        if problems:
            raise serializers.ValidationError(problems)
        return value

    class Meta:
        model = TrustedPartner
        # The secret is never read back: it is shown once, when made (TrustedPartnerCreatedSerializer).
        fields = ["id", "organization", "emails", "webhook_url", "event_types", "is_active"]


class TrustedPartnerCreatedSerializer(TrustedPartnerSerializer):
    webhook_secret = serializers.CharField(read_only=True, help_text="Shown once: keep it now.")

    class Meta(TrustedPartnerSerializer.Meta):
        fields = [*TrustedPartnerSerializer.Meta.fields, "webhook_secret"]


class PreviousSecretSerializer(serializers.Serializer):
    """A previous webhook secret that still signs (never the secret itself)."""

    made_at = serializers.DateTimeField(
        allow_null=True, help_text="When it was made (by a rotation); null: when the partner was set up."
    )
    signs_until = serializers.DateTimeField(
        source="until", help_text="Each webhook carries a signature with it until then (its own overlap)."
    )


class SecretRotatedSerializer(serializers.Serializer):
    webhook_secret = serializers.CharField(help_text="The new secret, shown once.")
    previous_secret_valid_until = serializers.DateTimeField(
        help_text="Until then, each webhook also carries a signature with the secret this one replaced."
    )
    previous_secrets = PreviousSecretSerializer(
        many=True,
        help_text="Every previous secret that still signs, the most recently replaced first: each until its "
        "own overlap ends.",
    )


class SecretsRevokedSerializer(serializers.Serializer):
    revoked = PreviousSecretSerializer(
        many=True, help_text="The previous secrets that stopped signing now. Only the current secret signs."
    )


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)
    submission = serializers.IntegerField(source="event.submission_id", read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "event_type",
            "submission",
            "channel",
            "address",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "last_error",
        ]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """A developer organization's own endpoint (its integration managers')."""

    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=DeveloperEventType.choices),
        allow_empty=False,
        max_length=len(DeveloperEventType.values),
        help_text="The events about your organization's submissions to receive, each once.",
    )

    def validate_event_types(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Name each event once.")
        return value

    class Meta:
        model = WebhookEndpoint
        # The secret is never read back: it is shown once, when made (WebhookEndpointCreatedSerializer).
        fields = ["id", "organization", "url", "description", "event_types", "is_active", "created_by", "created_at"]
        read_only_fields = ["created_at"]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret, shown once: keep it now.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class EndpointDeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(read_only=True, help_text="The webhook-id header: the same on every retry.")
    event_type = serializers.SerializerMethodField()
    submission = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField())
    def get_event_type(self, delivery) -> str:
        return delivery.event.type if delivery.event_id else delivery.subject

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_submission(self, delivery):
        return delivery.event.submission_id if delivery.event_id else None

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "event_type",
            "submission",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "last_error",
        ]


class ApiTokenCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    key = serializers.CharField(help_text="Shown once. Keep it secret.")


def _organizations_in_world(user):
    return rules.scope_organizations(Organization.objects.all(), user)


class ConflictCheckQuerySerializer(serializers.Serializer):
    # Plain text first (CharField refuses NUL bytes and overlong names), then looked up in the
    # caller's world: a name of another world is "does not exist", like one nobody has.
    reviewer = serializers.CharField(max_length=150, help_text="A reviewer's username.")
    organization = serializers.ListField(
        child=serializers.CharField(max_length=80),
        allow_empty=False,
        max_length=50,
        help_text="An organization's slug; repeat the parameter for several.",
    )

    def validate_reviewer(self, value):
        # The office's reviewers and the allied institutes' (the same conflict rules hold).
        found = (
            rules.conflict_check_candidates(rules.world_of(self.context["request"].user)).filter(username=value).first()
        )
        if found is None:
            raise serializers.ValidationError("There is no reviewer by that name here.")
        return found

    def validate_organization(self, values):
        found = {o.slug: o for o in _organizations_in_world(self.context["request"].user).filter(slug__in=values)}
        missing = [v for v in values if v not in found]
        if missing:
            raise serializers.ValidationError(f"No organization here has the slug {missing[0]!r}.")
        return [found[v] for v in dict.fromkeys(values)]


class ConflictAnswerSerializer(serializers.Serializer):
    organization = serializers.CharField(help_text="The organization's slug.")
    name = serializers.CharField()
    conflicted = serializers.BooleanField()
    reasons = serializers.ListField(
        child=serializers.CharField(), help_text="Why, in words: 'works for Lab Alpha', 'declared conflict with …'."
    )


class ConflictCheckSerializer(serializers.Serializer):
    reviewer = serializers.CharField(help_text="The reviewer's username.")
    conflicted = serializers.BooleanField(help_text="Conflicted with at least one of the organizations.")
    organizations = ConflictAnswerSerializer(many=True)


class ReleaseGateQuerySerializer(serializers.Serializer):
    # Plain text with the portal's limits (CharField refuses NUL bytes); the answer is read from
    # the caller's own scope, so nothing here is looked up before the gate asks the policy.
    model = serializers.CharField(max_length=200, help_text="The model's name, as filed (case does not matter).")
    version = serializers.CharField(max_length=100, help_text="The model's version, as filed.")
    channel = serializers.ChoiceField(choices=ReleaseChannel.choices, help_text="The release channel planned.")
    organization = serializers.SlugField(
        max_length=80,
        required=False,
        default="",
        help_text="The developer organization's slug: needed only when several organizations you can see "
        "filed a model of this name and version (developer staff never need it).",
    )


class ReleaseGateDeterminationSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    issued_at = serializers.DateTimeField()
    summary = serializers.CharField(source="partner_summary", help_text="What the developer and partners are told.")
    release_conditions = serializers.CharField()


class ReleaseGateSerializer(serializers.Serializer):
    answer = serializers.ChoiceField(
        choices=["permitted", "not_yet", "blocked", "unknown"],
        help_text="permitted: cleared, or the window elapsed; not_yet: under review; blocked: flagged, or "
        "access removed; unknown: never submitted (or withdrawn), or not yours to know about.",
    )
    label = serializers.CharField(help_text="The answer in words.")
    permitted = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why, in a sentence.")
    advisory = serializers.CharField(help_text="The gate is advisory: the framework imposes no preclearance.")
    model = serializers.CharField()
    version = serializers.CharField()
    channel = serializers.CharField()
    submission = serializers.IntegerField(allow_null=True, help_text="The submission answered for, if any.")
    state = serializers.CharField(allow_null=True)
    link = serializers.URLField(allow_null=True, help_text="The submission's page in the portal.")
    deadline_at = serializers.DateTimeField(allow_null=True, help_text="When the review window ends (under review).")
    release_conditions = serializers.CharField(help_text="The determination's release conditions; empty if none.")
    determination = ReleaseGateDeterminationSerializer(allow_null=True)
    checked_at = serializers.DateTimeField()


# --- a partner's own integration (its staff) -------------------------------------------------


class DeliveryAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True, help_text="The endpoint's HTTP status, if it answered.")
    latency_ms = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(help_text="What went wrong, in a fixed message; empty on success.")
    succeeded = serializers.BooleanField()


class PartnerDeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(read_only=True, help_text="The same on every retry and redelivery.")
    event_type = serializers.SerializerMethodField(help_text="The event's type; `webhook.test` for a test.")
    label = serializers.CharField(read_only=True)
    submission = serializers.SerializerMethodField()
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "kind",
            "event_type",
            "label",
            "submission",
            "channel",
            "address",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "last_error",
            "attempt_log",
        ]
        read_only_fields = fields

    def get_event_type(self, delivery) -> str | None:
        if delivery.event_id is not None:
            return delivery.event.type
        return "webhook.test" if delivery.kind == Delivery.Kind.TEST else None

    def get_submission(self, delivery) -> int | None:
        return delivery.event.submission_id if delivery.event_id is not None else None


class PartnerIntegrationSerializer(serializers.Serializer):
    organization = serializers.CharField()
    webhook_url = serializers.CharField(help_text="Empty: no webhook (ask the office to add one).")
    is_active = serializers.BooleanField(help_text="False: the office turned notifications to you off.")
    paused = serializers.BooleanField()
    paused_at = serializers.DateTimeField(allow_null=True)
    paused_by = serializers.CharField(allow_null=True, help_text="Who paused the webhooks.")
    waiting = serializers.IntegerField(help_text="Webhooks waiting to be tried (sent oldest first on resume).")
    previous_secret_valid_until = serializers.DateTimeField(
        allow_null=True,
        help_text="During a rotation: until then, some previous secret still signs beside the current one "
        "(the latest end in previous_secrets); null: only the current secret signs.",
    )
    current_secret_made_at = serializers.DateTimeField(
        allow_null=True, help_text="When the current secret was made; null: when the partner was set up."
    )
    previous_secrets = PreviousSecretSerializer(
        many=True, help_text="Each previous secret that still signs and until when, the most recently replaced first."
    )


class PartnerSecretsRevokedSerializer(SecretsRevokedSerializer):
    integration = PartnerIntegrationSerializer()


class PartnerResumedSerializer(serializers.Serializer):
    waiting = serializers.IntegerField(help_text="How many waiting webhooks are going out, oldest first.")
    integration = PartnerIntegrationSerializer()


class AccessOrderSerializer(serializers.ModelSerializer):
    recorded_by = serializers.SerializerMethodField()
    lifted_by = serializers.SerializerMethodField()
    open_weights_note = serializers.CharField(read_only=True)
    in_force = serializers.BooleanField(read_only=True)

    class Meta:
        model = AccessRemovalOrder
        fields = [
            "id",
            "kind",
            "reference",
            "issued_on",
            "authority",
            "scope",
            "scope_description",
            "previous_state",
            "in_force",
            "open_weights_note",
            "recorded_by",
            "recorded_at",
            "lifted_by",
            "lifted_at",
            "lift_reason",
        ]
        read_only_fields = fields

    def _shown(self, order, actor):
        return rules.actor_as_shown_to(self.context["request"].user, actor, order.submission)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_recorded_by(self, order):
        return self._shown(order, order.recorded_by)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_lifted_by(self, order):
        return self._shown(order, order.lifted_by)


class AccessOrderCreateSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=200)
    issued_on = serializers.DateField()
    authority = serializers.CharField(max_length=200)
    scope = serializers.ChoiceField(choices=AccessRemovalOrder.Scope.choices)
    scope_description = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    deployed = serializers.BooleanField(
        default=False,
        help_text="Cleared or past its window: the model is deployed already (access is removed). "
        "Otherwise an order before release holds the release.",
    )
    expected_state = serializers.ChoiceField(
        choices=State.choices, required=False, help_text="Refuse with 409 if the submission has moved on since."
    )


class AccessOrderLiftSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class WeightsPublicationSerializer(serializers.ModelSerializer):
    class Meta:
        model = WeightsPublication
        fields = ["id", "location", "sha256", "recorded_at", "withdrawn_at", "withdrawn_reason"]
        read_only_fields = fields


class WeightsPublicationWithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the record no longer stands.")


class WeightsPublicationCreateSerializer(serializers.Serializer):
    location = serializers.CharField(
        max_length=500, help_text="A public https URL (no query string) or hf://owner/name."
    )
    sha256 = serializers.CharField(max_length=64, help_text="64 hexadecimal characters.")


class AdvisorySerializer(serializers.ModelSerializer):
    findings = serializers.SerializerMethodField()
    digest = serializers.SerializerMethodField()

    class Meta:
        model = Advisory
        fields = ["id", "text", "proposed_at", "concurred_at", "issued_at", "findings", "digest"]
        read_only_fields = fields

    def _office(self, advisory) -> bool:
        return rules.may_see_internal_review(self.context["request"].user, advisory.submission)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_findings(self, advisory):
        """The findings it rests on: the office's business (an empty list for others)."""
        return sorted(f.pk for f in advisory.findings.all()) if self._office(advisory) else []

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_digest(self, advisory):
        """For a proposal: send it back when concurring."""
        from reviews.services import advisory_digest

        return advisory_digest(advisory) if advisory.issued_at is None and self._office(advisory) else None


class AdvisoryCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20000, help_text="What the developer and partners are told.")
    findings = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=100, help_text="Finding ids it rests on."
    )


class AdvisoryConcurSerializer(serializers.Serializer):
    advisory_digest = serializers.CharField(max_length=64, help_text="The digest read with the advisory.")


# --- joint reviews with allied institutes --------------------------------------------------------


class JointInvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    submission = serializers.IntegerField(source="submission_id", read_only=True)
    model = serializers.CharField(source="submission.__str__", read_only=True)
    institute = serializers.CharField(source="institute.slug", read_only=True)
    institute_name = serializers.CharField(source="institute.name", read_only=True)
    status = serializers.CharField(read_only=True)
    arrangement = serializers.CharField(source="arrangement.reference", read_only=True)
    classification_cap = serializers.CharField(source="arrangement.get_classification_cap_display", read_only=True)
    arrangement_in_force = serializers.SerializerMethodField()
    note = serializers.CharField(read_only=True)
    invited_at = serializers.DateTimeField(read_only=True)
    responded_at = serializers.DateTimeField(read_only=True, allow_null=True)
    withdrawn_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_arrangement_in_force(self, invitation) -> bool:
        from caisi_portal import clock

        return invitation.arrangement.in_force_on(clock.now().date())


class JointInvitationCreateSerializer(serializers.Serializer):
    submission = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The submission's id.")
    institute = serializers.CharField(max_length=80, help_text="The allied institute's slug.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
