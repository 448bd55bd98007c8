from django import forms
from django.contrib.auth import get_user_model

from accounts import rules
from accounts.models import Clearance
from caisi_portal.ids import row_id
from submissions.services import MSG_PARTNER_SUMMARY

from .models import Assignment, EvaluationDomain, Finding


class ReviewerChoice(forms.ModelChoiceField):
    """Each reviewer with what the person assigning needs: clearance and open workload."""

    def label_from_instance(self, user):
        load = getattr(user, "open_reviews", 0)
        return f"{user} · {user.get_clearance_display()} clearance · {load} open review{'s' if load != 1 else ''}"


class AssignmentForm(forms.Form):
    reviewer = ReviewerChoice(queryset=get_user_model().objects.none())
    role = forms.ChoiceField(choices=Assignment.Role.choices, initial=Assignment.Role.MEMBER)

    def __init__(self, *args, submission, **kwargs):
        super().__init__(*args, **kwargs)
        from django.db.models import Count, Q

        from submissions.models import OPEN_REVIEW_STATES

        everyone = rules.reviewer_candidates(submission.exercise_id).annotate(
            open_reviews=Count("assignments", filter=Q(assignments__submission__state__in=OPEN_REVIEW_STATES))
        )
        assigned = submission.assignments.values("reviewer_id")
        # Offered: those who can be assigned. The conflicted are named apart, with the reason
        # (a conflicted reviewer posted anyway is still refused by the service).
        conflict = rules.conflicted_with(submission.organization_id)
        self.conflicted = list(everyone.exclude(pk__in=assigned).filter(conflict))
        field = self.fields["reviewer"]
        # Any reviewer of this world is accepted, so a stale page or a crafted post is refused
        # by the service with its reason (already assigned, conflicted); only the eligible are offered.
        field.queryset = everyone
        field.widget.choices = [("", "Choose a reviewer")] + [
            (u.pk, field.label_from_instance(u)) for u in everyone.exclude(pk__in=assigned).exclude(conflict)
        ]
        self.fields["reviewer"].help_text = "Reviewers already on this review and those with a conflict are not listed."
        if submission.assignments.filter(role=Assignment.Role.LEAD).exists():
            self.fields["role"].choices = [(Assignment.Role.MEMBER, Assignment.Role.MEMBER.label)]
            self.fields["role"].initial = Assignment.Role.MEMBER
        else:
            self.fields["role"].initial = Assignment.Role.LEAD
        acknowledge_field(self, rules.clearance_needed(submission))


def acknowledge_field(form, needed: int) -> None:
    """The box that acknowledges a clearance gap (the service refuses a gap without it); none
    while the review's evidence needs no clearance, as no one can then fall below it."""
    if needed <= Clearance.UNCLASSIFIED:
        return
    label = Clearance(needed).label
    form.fields["acknowledge_clearance_gap"] = forms.BooleanField(
        required=False,
        label=f"Assign even if cleared below {label}",
        help_text=f"This review's evidence is classified up to {label}. Someone cleared below it does not see that "
        "evidence and cannot concur on a determination that rests on it: the two-person rule then needs another "
        "reviewer cleared for it.",
    )


class AssignmentEndForm(forms.Form):
    """End one reviewer's assignment, or hand their role to another reviewer, with a note.

    Offered to take over: the reviewers of the review's world not on it and not conflicted
    (lead reviewers only, for the lead); the service checks every one again."""

    hand_to = ReviewerChoice(queryset=get_user_model().objects.none(), required=False, label="Hand over to")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        label="Handover note",
        help_text="What the person taking over needs to know: where the work stands, what is owed. They read it "
        "with their assignment, and it is kept in the review's timeline, which the office's staff read: write "
        "nothing classified.",
    )

    def __init__(self, *args, assignment, **kwargs):
        super().__init__(*args, **kwargs)
        from django.db.models import Count, Q

        from accounts.roles import Role
        from submissions.models import OPEN_REVIEW_STATES

        submission = assignment.submission
        everyone = rules.reviewer_candidates(submission.exercise_id).annotate(
            open_reviews=Count("assignments", filter=Q(assignments__submission__state__in=OPEN_REVIEW_STATES))
        )
        offered = everyone.exclude(pk__in=submission.assignments.values("reviewer_id")).exclude(
            rules.conflicted_with(submission.organization_id)
        )
        field = self.fields["hand_to"]
        # Any reviewer of this world is accepted, so that a stale page or a crafted post is refused
        # by the service with its reason; only those who may take over are offered.
        field.queryset = everyone
        if assignment.role == Assignment.Role.LEAD:
            leads = get_user_model().groups.through.objects.filter(group__name=Role.LEAD_REVIEWER)
            offered = offered.filter(pk__in=leads.values("user_id"))
            field.required = True
            field.error_messages["required"] = "Choose the lead reviewer who takes over the lead."
            empty = "Choose the lead reviewer who takes over"
            field.help_text = (
                f"{assignment.reviewer} leads this review: the lead is handed over, never removed, as the review "
                "needs its lead to plan, propose and issue its determination."
            )
        else:
            empty = "No one: remove them from the review"
            field.help_text = "Whoever takes over becomes a reviewer here and is told, with your note."
        field.widget.choices = [("", empty)] + [(u.pk, field.label_from_instance(u)) for u in offered]
        acknowledge_field(self, rules.clearance_needed(submission))


class LeaveForm(forms.Form):
    """A period of the reviewer's own leave, both days included."""

    starts_on = forms.DateField(label="First day away", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label="Last day away", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(
        max_length=200, required=False, label="Note", help_text="Optional, for the office: for example, who covers."
    )


class VersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, version):
        return f"{version.benchmark.domain} · {version} ({version.get_classification_display()}, {version.metric})"


def planned_versions_for(submission, user):
    """The submission's planned benchmark versions this person may record against."""
    from benchmarks.models import BenchmarkVersion

    from .models import EvaluationPlanItem

    planned = EvaluationPlanItem.versions.through.objects.filter(evaluationplanitem__submission=submission)
    return (
        BenchmarkVersion.objects.filter(pk__in=planned.values("benchmarkversion_id"))
        .filter(classification__lte=rules.evidence_clearance(user, submission))
        .select_related("benchmark__domain")
        .order_by("benchmark__domain__sort_order", "benchmark__name", "label")
    )


class ResultForm(forms.Form):
    """A score for one planned benchmark version. There is no threshold to type: the outcome is
    computed from the version's policy levels."""

    version = VersionChoice(
        queryset=None,
        label="Benchmark",
        empty_label="Choose the benchmark version scored",
        help_text="The outcome is judged by this version's policy levels, set in the benchmark catalog.",
    )
    score = forms.DecimalField(max_digits=9, decimal_places=3)
    inconclusive = forms.BooleanField(
        required=False, help_text="The run did not produce a score that can be trusted (say why in the summary)."
    )
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=20000)

    def __init__(self, *args, submission, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = planned_versions_for(submission, user)


class VersionChoices(forms.ModelMultipleChoiceField):
    """Benchmark versions by id. An id no row can have (beyond 64 bits) is refused as an unknown
    choice before the database sees it: SQLite cannot even compare it."""

    def _check_values(self, value):
        for pk in value:
            text = str(pk)
            if text.isascii() and text.isdigit() and row_id(text) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice", params={"value": text[:30]}
                )
        return super()._check_values(value)


class PlanVersionsForm(forms.Form):
    """The lead's choice of benchmark versions for one planned domain."""

    domain = forms.ModelChoiceField(queryset=EvaluationDomain.objects.none(), empty_label="Choose a planned domain")
    versions = VersionChoices(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label="Benchmark versions",
        help_text="Retired versions cannot be planned; a version that already has a result stays planned.",
    )

    def __init__(self, *args, submission, user, **kwargs):
        from .services import plannable_versions

        super().__init__(*args, **kwargs)
        self.fields["domain"].queryset = EvaluationDomain.objects.filter(
            pk__in=submission.plan_items.values("domain_id")
        )
        self.fields["versions"].queryset = (
            plannable_versions(submission, user)
            .filter(benchmark__domain__in=self.fields["domain"].queryset)
            .select_related("benchmark__domain")
            .order_by("benchmark__domain__sort_order", "benchmark__name", "label")
        )
        self.fields["versions"].label_from_instance = lambda v: (
            f"{v.benchmark.domain} · {v}{' (current)' if v.is_current else ''}"
        )

    def clean(self):
        data = super().clean()
        domain, versions = data.get("domain"), data.get("versions")
        if domain and versions is not None:
            wrong = [str(v) for v in versions if v.benchmark.domain_id != domain.pk]
            if wrong:
                self.add_error("versions", f"Not benchmarks of {domain}: {', '.join(wrong)}.")
        return data


class FindingForm(forms.Form):
    domain = forms.ModelChoiceField(queryset=EvaluationDomain.objects.none())
    severity = forms.ChoiceField(choices=Finding.Severity.choices)
    classification = forms.TypedChoiceField(
        choices=Clearance.choices,
        coerce=int,
        help_text="Only people cleared at this level or above will see the finding.",
        error_messages={"required": "Choose the finding's classification: it decides who may read it."},
    )
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=50000)
    recommendation = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=20000)
    evidence = forms.FileField(required=False, help_text="PDF, Markdown, plain text, JSON or CSV.")

    def __init__(self, *args, submission, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["domain"].queryset = EvaluationDomain.objects.filter(
            pk__in=submission.plan_items.values("domain_id")
        )
        # No level chosen for the reviewer: a finding left at the first option would be shown to
        # everyone on the review, whatever it holds.
        # An allied institute's reviewer: no higher than their arrangement's cap either.
        cap = rules.joint_cap(user, submission)
        highest = user.clearance if cap is None else cap
        self.fields["classification"].choices = [("", "Choose a classification")] + [
            (v, label) for v, label in Clearance.choices if v <= highest
        ]


class ProposeFlagForm(forms.Form):
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)
    partner_summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=20000,
        label="Summary for the developer and partners",
        help_text="Exactly what the developer and trusted partners are told. No classified content.",
        error_messages={"required": MSG_PARTNER_SUMMARY},
    )
    release_conditions = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=20000)


class ProposeClearForm(ProposeFlagForm):
    """Clearing against the evidence: the texts of a flag proposal, and one justification per
    concern (reviews.evidence), each a field of its own named after the concern."""

    def __init__(self, *args, concerns, **kwargs):
        super().__init__(*args, **kwargs)
        self.concerns = concerns
        for concern in concerns:
            self.fields[f"justify_{concern.key}"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}),
                max_length=20000,
                label=f"Why clear despite this: {concern.label}",
                error_messages={"required": "Write why clearing is right despite this."},
            )

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "rationale": data["rationale"],
            "partner_summary": data["partner_summary"],
            "release_conditions": data.get("release_conditions", ""),
            "justifications": {c.key: data.get(f"justify_{c.key}", "") for c in self.concerns},
        }


def _no_nul(values):
    """A name with a NUL byte names nothing (PostgreSQL cannot even be asked about it)."""
    if any("\x00" in str(v) for v in (values if isinstance(values, list | tuple) else [values])):
        raise forms.ValidationError("Select a valid choice.", code="invalid_choice")


class NamedChoice(forms.ModelChoiceField):
    def to_python(self, value):
        _no_nul(value)
        return super().to_python(value)


class NamedChoices(forms.ModelMultipleChoiceField):
    def clean(self, value):
        _no_nul(value or [])
        return super().clean(value)


class ConflictCheckForm(forms.Form):
    """A reviewer and organizations of the asker's world (another world's are not offered)."""

    reviewer = NamedChoice(queryset=get_user_model().objects.none(), to_field_name="username")
    organizations = NamedChoices(queryset=None, to_field_name="slug", help_text="One or more organizations.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from submissions.models import Organization

        # The office's reviewers and the allied institutes' (the same conflict rules hold).
        self.fields["reviewer"].queryset = rules.conflict_check_candidates(rules.world_of(user))
        self.fields["reviewer"].label_from_instance = lambda u: f"{u} ({u.username})"
        self.fields["organizations"].queryset = rules.scope_organizations(Organization.objects.all(), user).order_by(
            "name"
        )


class ExpertiseForm(forms.Form):
    domains = forms.ModelMultipleChoiceField(
        queryset=EvaluationDomain.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Domains you know",
        help_text="Reviewers who know a review's planned domains are suggested for it first.",
    )


class AdvisoryForm(forms.Form):
    """An advisory on a released model: what the developer and partners are told, and the
    finding(s) it rests on (those of this submission the proposer is cleared to see)."""

    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=20000,
        label="What the developer and trusted partners are told",
        help_text="No classified content. Markdown is allowed.",
    )
    findings = forms.ModelMultipleChoiceField(
        queryset=Finding.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="The finding(s) it rests on",
    )

    def __init__(self, *args, findings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["findings"].queryset = Finding.objects.filter(pk__in=[f.pk for f in findings])
        self.fields["findings"].label_from_instance = lambda f: f"{f.get_severity_display()}: {f.title}"

    def clean_findings(self):
        _no_nul([str(f.pk) for f in self.cleaned_data["findings"]])
        return self.cleaned_data["findings"]
