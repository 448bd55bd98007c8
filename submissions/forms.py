from django import forms

from reviews.models import EvaluationDomain

from .guards import REQUIRED_FOR_SUBMIT
from .models import AccessRemovalOrder, Artifact, ModelSubmission, State
from .services import DRAFT_FIELDS, INTAKE_CHECKLIST, MSG_EMPTY_PLAN, MSG_PARTNER_SUMMARY
from .versions import supersedable_for


class SubmissionForm(forms.ModelForm):
    class Meta:
        model = ModelSubmission
        fields = DRAFT_FIELDS
        widgets = {
            "planned_release_date": forms.DateInput(attrs={"type": "date"}),
            "capabilities": forms.Textarea(attrs={"rows": 4}),
            "intended_use": forms.Textarea(attrs={"rows": 3}),
            "evaluator_access": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"training_compute_flops": "Optional, e.g. 3e25."}

    def __init__(self, *args, organization=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The earlier versions this organization's draft may choose (the service checks the
        # choice again, with the reason for a refusal: same model, filed before, review ended).
        field = self.fields["supersedes"]
        org_id = organization.pk if organization is not None else self.instance.organization_id
        exercise_id = organization.exercise_id if organization is not None else self.instance.exercise_id
        field.queryset = supersedable_for(org_id, exercise_id, exclude_pk=self.instance.pk)
        field.required = False
        field.label = "New version of"
        field.empty_label = "None: not a new version of a model reviewed before"
        field.help_text = (
            "The earlier version of this model the office reviewed (same model name). Its results are compared "
            "with this version's, and its open findings are carried forward."
        )
        # A draft can be saved incomplete; submitting checks completeness and says what is missing.
        for name in ("release_channel",):
            self.fields[name].required = True
        for name in ("capabilities", "intended_use", "evaluator_access", "planned_release_date"):
            self.fields[name].required = False
        # Marked from the submit guard's own list, so the form and the task list agree.
        for name in REQUIRED_FOR_SUBMIT:
            field = self.fields.get(name)
            if field is not None and not field.required:
                field.needed_to_submit = True
                field.help_text = " ".join(
                    filter(None, ["Needed to submit; the draft saves without it.", field.help_text])
                )

    def validate_unique(self):
        """Uniqueness is checked by the service, which words the message for people."""


class ArtifactForm(forms.Form):
    kind = forms.ChoiceField(choices=Artifact.Kind.choices)
    file = forms.FileField(help_text="PDF, Markdown, plain text, JSON or CSV.")


class TransitionForm(forms.Form):
    """The fields every transition has; subclasses add what a transition needs."""

    expected_state = forms.ChoiceField(choices=State.choices, widget=forms.HiddenInput)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
        label="Comment for the timeline (optional)",
    )
    # Groups of fields shown under their own heading: (legend, help, field names).
    fieldsets: list[tuple[str, str, list[str]]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._comment_last()

    def _comment_last(self):
        """What the action needs comes first; the optional comment after it."""
        if "comment" in self.fields:
            self.order_fields([name for name in self.fields if name != "comment"] + ["comment"])

    def grouped_fields(self) -> list[tuple[str, str, list]]:
        """(legend, help, bound fields) for each fieldset, then the rest under no legend."""
        grouped, seen = [], set()
        for legend, help_text, names in self.fieldsets:
            fields = [self[name] for name in names if name in self.fields]
            seen.update(names)
            grouped.append((legend, help_text, fields))
        rest = [field for field in self.visible_fields() if field.name not in seen]
        return [*grouped, ("", "", rest)] if rest else grouped

    def transition_data(self) -> dict:
        return {}


class AcceptForm(TransitionForm):
    """Accepting: the intake checklist and the plan; a lead reviewer may take the lead at once."""

    domains = forms.ModelMultipleChoiceField(
        queryset=EvaluationDomain.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        label="Domains to evaluate",
        help_text="The review records a result for each domain chosen here before it can be cleared.",
        error_messages={"required": MSG_EMPTY_PLAN},
    )

    def __init__(self, *args, lead_myself=False, rereview_window=None, **kwargs):
        super().__init__(*args, **kwargs)
        for key, text in INTAKE_CHECKLIST.items():
            self.fields[f"check_{key}"] = forms.BooleanField(label=text, required=True)
        self.fields["domains"].initial = list(EvaluationDomain.objects.filter(is_active=True))
        if rereview_window is not None:
            # A new version (it supersedes an earlier one): the office may scope its re-review.
            self.fields["domains"].help_text += " For a re-review, plan only the domains that need evaluating again."
            self.fields["window_days"] = forms.IntegerField(
                required=False,
                min_value=1,
                max_value=rereview_window,
                label="Re-review window (days)",
                help_text=f"Counted from the submission, like the agreement's {rereview_window}-day window, and "
                "no longer than it. Leave empty to keep the full window.",
            )
        if lead_myself:
            self.fields["lead_myself"] = forms.BooleanField(
                label="Lead this review myself (you can assign more reviewers after)",
                required=False,
                initial=True,
            )
        self.fieldsets = [
            (
                "Intake checklist",
                "Confirm each item against the artifacts above before accepting.",
                [f"check_{key}" for key in INTAKE_CHECKLIST],
            ),
            ("Evaluation plan", "", ["domains", "window_days"]),
            ("Who leads", "", ["lead_myself"]),
        ]
        self._comment_last()

    def transition_data(self):
        checklist = {key: self.cleaned_data.get(f"check_{key}", False) for key in INTAKE_CHECKLIST}
        data = {"checklist": checklist, "domains": list(self.cleaned_data["domains"])}
        if self.cleaned_data.get("window_days") is not None:
            data["window_days"] = self.cleaned_data["window_days"]
        return data


class RequestInformationForm(TransitionForm):
    questions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=20000,
        help_text="The developer's staff receive exactly these questions by email. Markdown is allowed.",
    )

    def transition_data(self):
        return {"questions": self.cleaned_data["questions"]}


class AnswerForm(TransitionForm):
    answer = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=50000,
        label="Your answer",
        help_text="Answer every question above. Markdown is allowed.",
    )

    def transition_data(self):
        return {"answer": self.cleaned_data["answer"]}


class ClearForm(TransitionForm):
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)
    release_conditions = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=20000)
    partner_summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=20000,
        label="Summary for the developer and partners",
        help_text="Exactly what the developer and trusted partners are told. No classified content.",
        error_messages={"required": MSG_PARTNER_SUMMARY},
    )

    def transition_data(self):
        return {k: self.cleaned_data[k] for k in ("rationale", "release_conditions", "partner_summary")}


class ReleaseForm(TransitionForm):
    # One text, not two: the release note is shown on the submission page and kept in the timeline.
    comment = None
    released_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Released on")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=5000,
        label="Release note (optional)",
        help_text="Where and how it was released. Shown on the submission page to the developer and the office.",
    )

    def transition_data(self):
        return {"released_at": self.cleaned_data["released_on"], "note": self.cleaned_data["note"]}


class OrderFields(forms.Form):
    """A government order's fields, as the office records them (AccessRemovalOrder)."""

    reference = forms.CharField(max_length=200, label="Order reference", help_text="As the order cites itself.")
    issued_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Date of the order")
    authority = forms.CharField(max_length=200, label="Issuing authority")
    scope = forms.ChoiceField(choices=AccessRemovalOrder.Scope.choices, label="What the order covers")
    scope_description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
        label="The order's scope, in its own terms",
        help_text="Required for named deployments: name them.",
    )

    def order_data(self) -> dict:
        return {k: self.cleaned_data[k] for k in ("reference", "issued_on", "authority", "scope", "scope_description")}


class RemoveAccessForm(TransitionForm, OrderFields):
    def transition_data(self):
        return self.order_data()


class ReinstateForm(TransitionForm):
    comment = None
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label="Why the order is lifted")

    def transition_data(self):
        return {"reason": self.cleaned_data["reason"]}


class OrderForm(OrderFields):
    """The order page: on a deployed model access is removed; before release the order holds it."""

    expected_state = forms.ChoiceField(choices=State.choices, widget=forms.HiddenInput)

    def __init__(self, *args, submission=None, **kwargs):
        super().__init__(*args, **kwargs)
        if submission is not None and submission.state in (State.CLEARED, State.WINDOW_ELAPSED):
            self.fields["deployed"] = forms.BooleanField(
                required=False,
                label="The model is deployed already (its release was not recorded)",
                help_text="Ticked: access is removed and the model is marked access removed. "
                "Not ticked: the order holds the release until it is lifted.",
            )


class LiftForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label="Why the order is lifted")


class PublicationForm(forms.Form):
    location = forms.CharField(
        max_length=500,
        label="Where the weights were published",
        help_text=(
            "A public https address (no tokens or query string), or a Hugging Face repository as "
            "hf://owner/name. It is shown on the public register."
        ),
    )
    sha256 = forms.CharField(
        max_length=64, min_length=64, label="SHA-256 of the file", help_text="64 hexadecimal characters."
    )


class PublicationWithdrawForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label="Why the record is withdrawn",
        help_text="For example: the hash was of another file, or the location was mistyped.",
    )


TRANSITION_FORMS = {
    "accept": AcceptForm,
    "request_information": RequestInformationForm,
    "answer_information_request": AnswerForm,
    "clear": ClearForm,
    "record_release": ReleaseForm,
    "remove_access": RemoveAccessForm,
    "reinstate_access": ReinstateForm,
}


def transition_form_class(name: str):
    return TRANSITION_FORMS.get(name, TransitionForm)
