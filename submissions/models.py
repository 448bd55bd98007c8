"""Organizations, agreements, model submissions (the FSM), artifacts and the audit trail.

Transition methods here only move the state and set the fields that belong to the move.
Everything else a transition causes (audit entry, related rows) happens in
``submissions.services.submission_transition``, the one path every caller uses.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from accounts import rules
from caisi_portal import clock
from caisi_portal.text import validate_multi_line, validate_single_line

# The states live in states.py (the transitions' declarations need them and the models need the
# declarations); everyone else goes on importing them from here.
from .states import ANNOUNCED_STATES as ANNOUNCED_STATES
from .states import DETERMINED_STATES as DETERMINED_STATES
from .states import OPEN_REVIEW_STATES as OPEN_REVIEW_STATES
from .states import OPEN_WEIGHTS_NOTE, ReleaseChannel, State
from .transitions import audit_labels, declared


class Organization(models.Model):
    class Kind(models.TextChoices):
        DEVELOPER = "developer", "AI developer"
        TRUSTED_PARTNER = "trusted_partner", "Trusted partner"
        REVIEW_OFFICE = "review_office", "Review office"
        # A foreign government's AI safety or security institute, invited to joint reviews under
        # a data-sharing arrangement (joint.models).
        ALLIED_INSTITUTE = "allied_institute", "Allied institute"

    name = models.CharField(max_length=200, unique=True, validators=[validate_single_line])
    public_name = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_single_line],
        help_text="How notices to partners and developers name it (an allied institute); empty: its name.",
    )
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    is_simulated = models.BooleanField(default=False)
    exercise = models.ForeignKey(
        "exercises.Exercise",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="organizations",
        help_text="The training exercise this belongs to; empty for live data.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def shown_publicly(self) -> str:
        return self.public_name or self.name


class AgreementQuerySet(models.QuerySet):
    def visible_to(self, user):
        return rules.scope_agreements(self, user)


class Agreement(ConcurrentTransitionMixin, models.Model):
    """The voluntary pre-release review agreement between a developer and the office."""

    class Status(models.TextChoices):
        NONE = "none", "No agreement"
        NEGOTIATING = "negotiating", "Negotiating"
        SIGNED = "signed", "Signed"
        SUSPENDED = "suspended", "Suspended"
        TERMINATED = "terminated", "Terminated"

    organization = models.OneToOneField(
        Organization,
        on_delete=models.PROTECT,
        related_name="agreement",
        limit_choices_to={"kind": Organization.Kind.DEVELOPER},
    )
    status = FSMField(default=Status.NONE, choices=Status.choices, protected=True)
    review_window_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text="Calendar days the office has to review a submission (at most 30).",
    )
    negotiation_started_on = models.DateField(null=True, blank=True)
    signed_on = models.DateField(null=True, blank=True)
    suspended_on = models.DateField(null=True, blank=True)
    terminated_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(review_window_days__gte=1, review_window_days__lte=30),
                name="agreement_window_at_most_30_days",
            )
        ]

    def __str__(self):
        return f"{self.organization} ({self.get_status_display()})"

    @property
    def allows_submission(self) -> bool:
        return self.status == self.Status.SIGNED

    def negotiating_days(self, today) -> int | None:
        """How long a developer has been negotiating, or None if it is not."""
        if self.status != self.Status.NEGOTIATING or not self.negotiation_started_on:
            return None
        return (today - self.negotiation_started_on).days

    @transition(field=status, source=Status.NONE, target=Status.NEGOTIATING)
    def open_negotiation(self):
        self.negotiation_started_on = clock.now().date()

    @transition(field=status, source=[Status.NONE, Status.NEGOTIATING], target=Status.SIGNED)
    def sign(self):
        self.signed_on = clock.now().date()

    @transition(field=status, source=Status.SIGNED, target=Status.SUSPENDED)
    def suspend(self):
        self.suspended_on = clock.now().date()

    @transition(field=status, source=Status.SUSPENDED, target=Status.SIGNED)
    def reinstate(self):
        self.suspended_on = None

    @transition(field=status, source=[Status.NEGOTIATING, Status.SIGNED, Status.SUSPENDED], target=Status.TERMINATED)
    def terminate(self):
        self.terminated_on = clock.now().date()


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("This record is append-only: entries cannot be changed.")

    def delete(self):
        raise PermissionError("This record is append-only: entries cannot be deleted.")


class AppendOnlyModel(models.Model):
    """A log row: written once, never changed or deleted through the ORM."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("This record is append-only: entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("This record is append-only: entries cannot be deleted.")


class AgreementEvent(AppendOnlyModel):
    """Who changed an agreement's status, when and why."""

    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True)
    recorded_at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["recorded_at", "pk"]

    def __str__(self):
        return f"{self.agreement.organization}: {self.from_status} → {self.to_status}"

    # The statuses in words (stored as codes: the record keeps what the machine wrote).
    def from_label(self) -> str:
        return Agreement.Status(self.from_status).label if self.from_status in Agreement.Status.values else "—"

    def to_label(self) -> str:
        return Agreement.Status(self.to_status).label if self.to_status in Agreement.Status.values else "—"


class SubmissionQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The submissions this user may know exist (see accounts.rules)."""
        return rules.scope_submissions(self, user)


class ModelSubmission(ConcurrentTransitionMixin, models.Model):
    """A developer's model handed to the office for pre-release review."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="submissions")
    model_name = models.CharField(max_length=200, validators=[validate_single_line])
    model_version = models.CharField(max_length=100, validators=[validate_single_line])
    release_channel = models.CharField(max_length=20, choices=ReleaseChannel.choices)
    planned_release_date = models.DateField(null=True, blank=True)
    capabilities = models.TextField(
        "capabilities", blank=True, help_text="What the model can do.", validators=[validate_multi_line]
    )
    intended_use = models.TextField(blank=True, validators=[validate_multi_line])
    training_compute_flops = models.FloatField(
        "training compute (FLOPs)", null=True, blank=True, validators=[MinValueValidator(0)]
    )
    evaluator_access = models.TextField(
        "how evaluators get access",
        blank=True,
        help_text="Endpoints, credentials process, weights transfer.",
        validators=[validate_multi_line],
    )

    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True, db_index=True)
    # Where an answered information request returns the submission to.
    resume_state = models.CharField(max_length=30, blank=True, choices=State.choices)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    intake_checklist = models.JSONField(default=dict, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    release_note = models.TextField(blank=True)
    released_after_flag = models.BooleanField(default=False)
    access_removed_at = models.DateTimeField(null=True, blank=True)
    is_simulated = models.BooleanField(default=False)
    # Exercise data never reaches a real partner's endpoint (see partners.services).
    is_exercise = models.BooleanField(default=False)
    exercise = models.ForeignKey(
        "exercises.Exercise",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="submissions",
        help_text="The training exercise this belongs to; empty for live data.",
    )
    # The office's decision to list this review in the public register (register app).
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # A new version of a model the office reviewed before (submissions.versions decides which
    # earlier version may be chosen): its page compares results, and its open findings are
    # carried forward when the re-review is accepted.
    supersedes = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="superseded_by",
        verbose_name="supersedes the earlier version",
        help_text="An earlier version of the same model that the office reviewed.",
    )

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("submit_modelsubmission", "Can submit a model for review"),
            ("withdraw_modelsubmission", "Can withdraw a submission"),
            ("accept_modelsubmission", "Can accept a submission into evaluation"),
            ("request_information", "Can request information from the developer"),
            ("answer_information_request", "Can answer an information request"),
            ("record_release", "Can record a model's release"),
            ("record_access_removal", "Can record a government order to remove access"),
            ("view_partner_announcement", "Can see determinations announced to trusted partners"),
        ]
        indexes = [
            # Exercise rows are few: dashboards leave them out through this small index.
            models.Index(fields=["id"], condition=Q(is_exercise=True), name="submission_exercise"),
            # Counting live reviews by state reads this index alone.
            models.Index(fields=["state"], condition=Q(is_exercise=False), name="submission_live_state"),
            # The public register's newest-first pages.
            models.Index(
                fields=["-published_at", "-id"],
                condition=Q(published_at__isnull=False, is_exercise=False),
                name="submission_register",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "model_name", "model_version"],
                condition=~Q(state="withdrawn"),
                name="one_live_submission_per_model_version",
            ),
            # One live successor per version: a chain, never a fork (a withdrawn one frees it).
            models.UniqueConstraint(
                fields=["supersedes"],
                condition=Q(supersedes__isnull=False) & ~Q(state="withdrawn"),
                name="one_live_successor_per_version",
            ),
            models.CheckConstraint(condition=~Q(supersedes=models.F("id")), name="submission_never_supersedes_itself"),
        ]

    def __str__(self):
        return f"{self.model_name} {self.model_version}"

    def save(self, *args, **kwargs):
        if self.created_at is None:
            self.created_at = clock.now()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("submissions:detail", args=[self.pk])

    @property
    def is_open_weights(self) -> bool:
        return self.release_channel == ReleaseChannel.OPEN_WEIGHTS

    # --- transitions -------------------------------------------------------------
    # Each declared once in submissions/transitions.py (source, target, guards, who may, inputs,
    # clock, events); the methods only set the fields that belong to the move.

    @transition(field=state, **declared("submit"))
    def submit(self, *, actor):
        self.submitted_by = actor
        self.submitted_at = clock.now()

    @transition(field=state, **declared("accept"))
    def accept(self, *, actor, checklist):
        self.intake_checklist = checklist

    @transition(field=state, **declared("request_information"))
    def request_information(self, *, actor):
        self.resume_state = self.state

    @transition(field=state, **declared("answer_information_request"))
    def answer_information_request(self, *, actor):
        back_to, self.resume_state = self.resume_state or State.INTAKE, ""
        return back_to

    @transition(field=state, **declared("clear"))
    def clear(self, *, actor):
        pass

    @transition(field=state, **declared("flag"))
    def flag(self, *, actor):
        pass

    @transition(field=state, **declared("withdraw"))
    def withdraw(self, *, actor):
        pass

    @transition(field=state, **declared("withdraw_for_agreement"))
    def withdraw_for_agreement(self, *, actor):
        self.resume_state = ""

    @transition(field=state, **declared("return_unanswered"))
    def return_unanswered(self, *, actor):
        # Withdrawn for lack of an answer: the developer may file the model again.
        self.resume_state = ""

    @transition(field=state, **declared("elapse"))
    def elapse(self, *, actor):
        # The agreement is voluntary: once the window is over the developer may release.
        pass

    @transition(field=state, **declared("record_release"))
    def record_release(self, *, actor, released_at, note=""):
        # The agreement is voluntary: a flagged model can still be released, on the record.
        self.released_after_flag = self.state == State.FLAGGED
        self.released_at = released_at
        self.release_note = note

    @transition(field=state, **declared("remove_access"))
    def remove_access(self, *, actor):
        # The order itself is a record (AccessRemovalOrder), written by the transition's effect.
        self.access_removed_at = clock.now()

    @transition(field=state, **declared("reinstate_access"))
    def reinstate_access(self, *, actor, back_to):
        # Back to the state the order found the model in (released, cleared, past its window).
        self.access_removed_at = None
        return back_to


def artifact_upload_to(instance, filename):
    # Never reuse the uploader's name on disk: it is kept, sanitised, only as metadata.
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"artifacts/{instance.submission_id}/{uuid.uuid4().hex}{suffix}"


class Artifact(models.Model):
    class Kind(models.TextChoices):
        MODEL_CARD = "model_card", "Model card"
        SYSTEM_CARD = "system_card", "System card"
        EVALUATION_REPORT = "evaluation_report", "Evaluation report"
        OTHER = "other", "Other"

    submission = models.ForeignKey(ModelSubmission, on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    file = models.FileField(upload_to=artifact_upload_to, max_length=300)
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["uploaded_at", "pk"]

    def __str__(self):
        return self.original_name


class InformationRequest(models.Model):
    """Questions the office put to the developer; the review clock waits for the answer."""

    submission = models.ForeignKey(ModelSubmission, on_delete=models.CASCADE, related_name="information_requests")
    questions = models.TextField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission"], condition=Q(answered_at__isnull=True), name="one_open_request_per_submission"
            )
        ]

    def __str__(self):
        return f"Information request on {self.submission}"


class AccessRemovalOrder(models.Model):
    """A government order to remove access to a model (or, before release, to hold it).

    On a deployed model the order moves the submission to access removed; on one not yet
    released it holds the release (record_release's guard says so). Lifting it (reinstatement)
    returns the submission to `previous_state`. At most one order is in force at a time.
    """

    class Scope(models.TextChoices):
        ALL_ACCESS = "all_access", "All access"
        NAMED_DEPLOYMENTS = "named_deployments", "Named deployments"
        NEW_DOWNLOADS = "new_downloads", "New downloads"

    class Kind(models.TextChoices):
        REMOVAL = "removal", "Access removed"
        HOLD = "hold", "Release held"

    submission = models.ForeignKey(ModelSubmission, on_delete=models.CASCADE, related_name="access_orders")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reference = models.CharField(
        "order reference", max_length=200, validators=[validate_single_line], help_text="As the order cites itself."
    )
    issued_on = models.DateField("date of the order")
    authority = models.CharField("issuing authority", max_length=200, validators=[validate_single_line])
    scope = models.CharField(max_length=20, choices=Scope.choices)
    scope_description = models.TextField(
        "what the order covers", blank=True, validators=[validate_multi_line], help_text="In the order's own terms."
    )
    # Where lifting the order returns the submission.
    previous_state = models.CharField(max_length=30, choices=State.choices)
    # Published weights cannot be recalled: the record says so for an open-weights model.
    open_weights = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    recorded_at = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    lift_reason = models.TextField(blank=True, validators=[validate_multi_line])

    class Meta:
        ordering = ["-recorded_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission"], condition=Q(lifted_at__isnull=True), name="one_order_in_force_per_submission"
            )
        ]

    def __str__(self):
        return f"Order {self.reference} on {self.submission}"

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None

    @property
    def open_weights_note(self) -> str:
        return OPEN_WEIGHTS_NOTE if self.open_weights else ""

    def facts(self) -> dict:
        """What the order says, as partners and the public register may know it."""
        return {
            "kind": self.kind,
            "reference": self.reference,
            "issued_on": self.issued_on.isoformat(),
            "authority": self.authority,
            "scope": self.scope,
            "scope_label": self.get_scope_display(),
            "lifted_at": self.lifted_at.isoformat() if self.lifted_at else None,
        }


class WeightsPublicationQuerySet(models.QuerySet):
    def current(self):
        """The records that stand: what the register, notices and the release gate repeat."""
        return self.filter(withdrawn_at__isnull=True)


class WeightsPublication(models.Model):
    """Where an open-weights model's weights were published, and the hash of each file, so
    downstream builders can tell whether what they run is what an order concerns."""

    submission = models.ForeignKey(ModelSubmission, on_delete=models.CASCADE, related_name="weights_publications")
    location = models.CharField(
        max_length=500, help_text="An http(s) URL or a Hugging Face repository (hf://owner/name)."
    )
    sha256 = models.CharField("SHA-256", max_length=64)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    # A mistaken record (a wrong location or hash) is withdrawn, never deleted: the audit chain
    # and anyone who read it can still see what was said and why it no longer stands.
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    withdrawn_reason = models.TextField(blank=True)

    objects = WeightsPublicationQuerySet.as_manager()

    class Meta:
        ordering = ["recorded_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "location", "sha256"],
                condition=Q(withdrawn_at__isnull=True),
                name="one_current_publication_per_location_and_file",
            )
        ]

    def __str__(self):
        return f"{self.location} ({self.sha256[:12]})"


class AuditEntryQuerySet(AppendOnlyQuerySet):
    def for_viewer(self, user):
        """Entries this user may read on a submission they can already see."""
        return rules.scope_audit_entries(self, user)


AUDIT_ACTION_LABELS = {
    "draft_created": "Draft created",
    "supersedes_chosen": "Earlier version chosen (this submission supersedes it)",
    "review_window_scoped": "Re-review scoped to a shorter window",
    "findings_carried": "Open findings carried forward from the earlier version",
    "finding_resolved": "Carried finding resolved",
    "artifact_uploaded": "Artifact uploaded",
    **audit_labels(),
    "reviewer_assigned": "Reviewer assigned",
    "reviewer_handed_over": "Reviewer's assignment handed over",
    "reviewer_removed": "Reviewer removed from the review",
    "result_recorded": "Result recorded",
    "result_revised": "Result revised",
    "plan_changed": "Benchmarks planned for a domain changed",
    "finding_recorded": "Finding recorded",
    "flag_proposed": "Flag proposed",
    "flag_concurred": "Concurrence with flag",
    "clearance_proposed": "Clearance proposed (against the evidence)",
    "clearance_concurred": "Concurrence with clearance",
    "published": "Listed in the public register",
    "unpublished": "Removed from the public register",
    "breach_acknowledged": "SLA breach acknowledged",
    "agreement_review_continues": "The agreement changed: the review continues",
    "results_reminder": "Reminded of missing planned results",
    "results_escalation": "Missing planned results escalated",
    "access_hold_recorded": "Government order recorded: release held",
    "access_hold_lifted": "Government hold lifted",
    "weights_publication_recorded": "Weights publication recorded",
    "weights_publication_withdrawn": "Weights publication record withdrawn",
    "advisory_proposed": "Advisory proposed",
    "advisory_issued": "Advisory issued (concurred)",
    "institute_invited": "Allied institute invited to a joint review",
    "institute_accepted": "Allied institute joined the review",
    "institute_declined": "Allied institute declined the invitation",
    "institute_invitation_withdrawn": "Invitation to an allied institute withdrawn",
    "arrangement_recorded": "Data-sharing arrangement recorded",
    "arrangement_ended": "Data-sharing arrangement ended",
    "configuration_changed": "Configuration changed",
    "configuration_added": "Configuration added",
    "configuration_removed": "Configuration removed",
    "notification_redelivered": "Notification sent again",
    "webhook_test_sent": "Test webhook sent",
}


class AuditEntry(AppendOnlyModel):
    """One thing that happened to a submission, or to the office's configuration (agreements,
    partners, domains, policies: no submission). Written once, never changed."""

    submission = models.ForeignKey(
        ModelSubmission, on_delete=models.PROTECT, related_name="audit_entries", null=True, blank=True
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(max_length=60)
    from_state = models.CharField(max_length=30, blank=True)
    to_state = models.CharField(max_length=30, blank=True)
    comment = models.TextField(blank=True)
    # Internal entries (assignments, findings, concurrences) are the office's own business.
    internal = models.BooleanField(default=False)
    at = models.DateTimeField()
    # Tamper evidence (submissions.audit_chain): each entry seals its content and the entry
    # before it, in this submission's chain and in the global one.
    chain_hash = models.CharField(max_length=64, blank=True)
    global_hash = models.CharField(max_length=64, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args, **kwargs):
        if self._state.adding:
            from .audit_chain import seal

            seal(self)
        super().save(*args, **kwargs)

    @property
    def label(self) -> str:
        return AUDIT_ACTION_LABELS.get(self.action, self.action.replace("_", " ").capitalize())


class AuditCheckpoint(AppendOnlyModel):
    """The audit chain's head at one moment, published (the public register shows it).

    Checkpoints chain too (each seals the one before). Once a checkpoint is out in the world,
    deleting the newest entries or re-hashing the whole trail no longer matches it, and
    `verify_audit_chain` says so.
    """

    taken_at = models.DateTimeField()
    entries = models.PositiveIntegerField(help_text="How many entries the chain held.")
    last_entry_id = models.BigIntegerField(null=True, blank=True)
    head = models.CharField(max_length=64, help_text="The global hash of the last entry.")
    previous = models.CharField(max_length=64, help_text="The seal of the checkpoint before.")
    seal = models.CharField(max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-taken_at", "-pk"]

    def __str__(self):
        return f"Checkpoint {self.taken_at:%Y-%m-%d %H:%M}: {self.entries} entries, head {self.head[:12]}"


class AuditIntegrityAlert(models.Model):
    """A break found in the audit trail: administrators are told once per break."""

    fingerprint = models.CharField(max_length=64, unique=True)
    found_at = models.DateTimeField()
    description = models.TextField()

    class Meta:
        ordering = ["-found_at"]

    def __str__(self):
        return self.description[:80]


# --- the review clock ------------------------------------------------------------------------


class ReviewClock(models.Model):
    """The office's review window for one submission.

    Stored as data, not as a timer: the start, the window, closed pauses (ClockPause rows,
    summed in ``paused_total``) and a denormalised ``deadline_at`` recomputed whenever the
    clock starts, pauses or resumes. The sweep asks the index "what is due now?".
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        ELAPSED = "elapsed", "Elapsed"

    submission = models.OneToOneField(ModelSubmission, on_delete=models.CASCADE, related_name="review_clock")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    window = models.DurationField()
    paused_total = models.DurationField(default=dt.timedelta)
    # While paused: the deadline as it stood when the pause began (it moves on resume).
    deadline_at = models.DateTimeField()
    # The next "N days left" warning, or null when none is left to send.
    next_warning_at = models.DateTimeField(null=True, blank=True)
    warnings_sent = models.JSONField(default=list, blank=True, help_text="Days-left warnings already handled.")
    # The next results reminder or escalation (SlaPolicy.reminder_steps), or null when none
    # is left or the review is not in evaluation. Compare-and-set, like next_warning_at.
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.JSONField(default=list, blank=True, help_text="Reminder steps already handled.")
    # While paused for information: when the pause limit (SlaPolicy.information_pause_cap_days)
    # is reached, and the next step before it (the developer's warning, then the return itself),
    # compare-and-set by the sweep like next_warning_at. Both null while running.
    pause_cap_at = models.DateTimeField(null=True, blank=True)
    pause_step_at = models.DateTimeField(null=True, blank=True)
    # The deadline an exact-time (eta) expiry task has been queued for, so it is queued once.
    eta_scheduled_for = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # Copied from the submission: the sweep acts on live clocks at wall time and on each
    # exercise's clocks at that exercise's simulated time.
    exercise = models.ForeignKey(
        "exercises.Exercise", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["deadline_at"], condition=Q(status="running"), name="clock_running_deadline"),
            models.Index(
                fields=["exercise", "deadline_at"],
                condition=Q(status="running", exercise__isnull=False),
                name="clock_exercise_deadline",
            ),
            models.Index(
                fields=["next_warning_at"],
                condition=Q(status="running", next_warning_at__isnull=False),
                name="clock_running_next_warning",
            ),
            models.Index(
                fields=["next_reminder_at"],
                condition=Q(status="running", next_reminder_at__isnull=False),
                name="clock_running_next_reminder",
            ),
            models.Index(fields=["started_at"], condition=Q(status="paused"), name="clock_paused"),
            models.Index(
                fields=["pause_step_at"],
                condition=Q(status="paused", pause_step_at__isnull=False),
                name="clock_paused_step",
            ),
        ]

    def __str__(self):
        return f"Review clock for {self.submission}"

    def remaining(self, now: dt.datetime) -> dt.timedelta:
        """Time left in the window; frozen while paused, zero or less once due."""
        if self.status == self.Status.PAUSED:
            return self.deadline_at - self.paused_since
        if self.status in (self.Status.STOPPED, self.Status.ELAPSED):
            return self.deadline_at - (self.stopped_at or self.deadline_at)
        return self.deadline_at - now

    @property
    def paused_since(self):
        open_pause = next((p for p in self.pauses.all() if p.ended_at is None), None)
        return open_pause.started_at if open_pause else None


class ClockPause(models.Model):
    """One interval during which the clock stood still, and why."""

    clock = models.ForeignKey(ReviewClock, on_delete=models.CASCADE, related_name="pauses")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["started_at", "pk"]
        indexes = [models.Index(fields=["started_at"], condition=Q(ended_at__isnull=True), name="pause_open")]
        constraints = [
            models.UniqueConstraint(
                fields=["clock"], condition=Q(ended_at__isnull=True), name="one_open_pause_per_clock"
            )
        ]

    def __str__(self):
        return f"Pause of {self.clock}: {self.reason}"

    def duration(self, now: dt.datetime) -> dt.timedelta:
        return (self.ended_at or now) - self.started_at


class SlaPolicy(models.Model):
    """The office's service-level targets. One row; administrators edit it in the admin."""

    intake_decision_days = models.PositiveSmallIntegerField(
        default=3, help_text="Accept (or ask for information) within this many days of submission."
    )
    reviewer_assignment_days = models.PositiveSmallIntegerField(
        default=2, help_text="Assign a lead reviewer within this many days of acceptance."
    )
    developer_answer_days = models.PositiveSmallIntegerField(
        default=10, help_text="The developer answers an information request within this many days."
    )
    warning_days = models.JSONField(
        default=list, blank=True, help_text="Warn reviewers and administrators at these days left, e.g. [7, 2]."
    )
    # Planned results still missing this close to the review deadline: tell the reviewers,
    # then their lead, then the administrators. 0 turns a step off.
    reminder_days = models.PositiveSmallIntegerField(
        default=7, help_text="Remind reviewers of missing planned results this many days before the review deadline."
    )
    escalate_lead_days = models.PositiveSmallIntegerField(
        default=3, help_text="Tell the lead reviewer about results still missing this many days before the deadline."
    )
    escalate_admin_days = models.PositiveSmallIntegerField(
        default=1, help_text="Tell the administrators about results still missing this many days before the deadline."
    )
    # An information request nobody answers must not hold a review open for ever: past this
    # much paused time in all, the submission is returned (withdrawn for lack of an answer).
    information_pause_cap_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text="Return a submission once its review clock has been paused this many days in all for "
        "unanswered information requests.",
    )
    pause_cap_warning_days = models.PositiveSmallIntegerField(
        default=5,
        help_text="Warn the developer this many days before the pause limit returns their submission (0: no warning).",
    )

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policy"

    def __str__(self):
        return "SLA policy"

    @classmethod
    def current(cls) -> SlaPolicy:
        policy, _ = cls.objects.get_or_create(pk=1, defaults={"warning_days": [7, 2]})
        return policy

    def warning_offsets(self) -> list[int]:
        return sorted({int(d) for d in (self.warning_days or []) if int(d) > 0}, reverse=True)

    def reminder_steps(self) -> list[tuple[str, int]]:
        """(step, days before the deadline) for each step turned on, earliest first."""
        steps = [
            (ReminderStep.REVIEWER, self.reminder_days),
            (ReminderStep.LEAD, self.escalate_lead_days),
            (ReminderStep.ADMINISTRATOR, self.escalate_admin_days),
        ]
        return sorted([(step, days) for step, days in steps if days > 0], key=lambda sd: -sd[1])


class ReminderStep(models.TextChoices):
    REVIEWER = "reviewer", "Reminder to the reviewers"
    LEAD = "lead", "Escalation to the lead reviewer"
    ADMINISTRATOR = "administrator", "Escalation to the administrators"
    MANUAL = "manual", "Reminder sent by hand"


class ResultsReminder(models.Model):
    """One reminder about missing planned results, to one person.

    The sweep's steps are sent once per review (the unique constraint backs the clock's
    compare-and-set); a reminder by hand may be sent again, but not in quick succession.
    """

    submission = models.ForeignKey(ModelSubmission, on_delete=models.CASCADE, related_name="results_reminders")
    assignment = models.ForeignKey(
        "reviews.Assignment", null=True, blank=True, on_delete=models.SET_NULL, related_name="reminders"
    )
    step = models.CharField(max_length=20, choices=ReminderStep.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField()
    deadline_at = models.DateTimeField()
    missing = models.JSONField(default=list, blank=True, help_text="The planned domains without a result.")

    class Meta:
        ordering = ["sent_at", "pk"]
        indexes = [models.Index(fields=["assignment", "sent_at"], name="reminder_assignment_sent")]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "step", "recipient"],
                condition=~Q(step="manual"),
                name="one_reminder_per_step_and_person",
            )
        ]

    def __str__(self):
        return f"{self.get_step_display()} to {self.recipient} on {self.submission}"


class SlaKind(models.TextChoices):
    INTAKE_DECISION = "intake_decision", "Intake decision"
    REVIEWER_ASSIGNMENT = "reviewer_assignment", "Reviewer assignment"
    DEVELOPER_ANSWER = "developer_answer", "Developer answer to an information request"
    DETERMINATION = "determination", "Determination before the review deadline"


class SlaObligation(models.Model):
    """Something someone owes by a time. Open until met (or moot); breached at most once."""

    submission = models.ForeignKey(ModelSubmission, on_delete=models.CASCADE, related_name="sla_obligations")
    kind = models.CharField(max_length=30, choices=SlaKind.choices)
    due_at = models.DateTimeField()
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    exercise = models.ForeignKey(
        "exercises.Exercise", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(closed_at__isnull=True, breached_at__isnull=True),
                name="sla_open_due",
            ),
            models.Index(
                fields=["exercise", "due_at"],
                condition=Q(closed_at__isnull=True, breached_at__isnull=True, exercise__isnull=False),
                name="sla_exercise_open_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "kind"], condition=Q(closed_at__isnull=True), name="one_open_obligation_per_kind"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.submission}"


class SlaBreach(models.Model):
    """A missed target, recorded once, acknowledged later by an administrator."""

    submission = models.ForeignKey(ModelSubmission, on_delete=models.CASCADE, related_name="sla_breaches")
    kind = models.CharField(max_length=30, choices=SlaKind.choices)
    obligation = models.OneToOneField(
        SlaObligation, on_delete=models.CASCADE, null=True, blank=True, related_name="breach"
    )
    due_at = models.DateTimeField()
    detected_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-detected_at", "-pk"]
        verbose_name_plural = "SLA breaches"
        indexes = [
            models.Index(fields=["-detected_at"], name="breach_detected"),
            models.Index(fields=["detected_at"], condition=Q(acknowledged_at__isnull=True), name="breach_open"),
        ]
        constraints = [
            # One determination breach per submission: its review window elapses once.
            models.UniqueConstraint(
                fields=["submission"], condition=Q(kind="determination"), name="one_determination_breach"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} breached on {self.submission}"
