from django import forms

from reviews.models import EvaluationDomain

from .models import Artifact, ModelSubmission, State
from .services import DRAFT_FIELDS, INTAKE_CHECKLIST, MSG_EMPTY_PLAN, MSG_PARTNER_SUMMARY


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A draft can be saved incomplete; submitting checks completeness and says what is missing.
        for name in ("release_channel",):
            self.fields[name].required = True
        for name in ("capabilities", "intended_use", "evaluator_access", "planned_release_date"):
            self.fields[name].required = False

    def validate_unique(self):
        """Uniqueness is checked by the service, which words the message for people."""


class ArtifactForm(forms.Form):
    kind = forms.ChoiceField(choices=Artifact.Kind.choices)
    file = forms.FileField(help_text="PDF, Markdown, plain text, JSON or CSV.")


class TransitionForm(forms.Form):
    """The fields every transition has; subclasses add what a transition needs."""

    expected_state = forms.ChoiceField(choices=State.choices, widget=forms.HiddenInput)
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000)

    def transition_data(self) -> dict:
        return {}


class AcceptForm(TransitionForm):
    domains = forms.ModelMultipleChoiceField(
        queryset=EvaluationDomain.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        label="Evaluation plan",
        help_text="The domains the review will evaluate.",
        error_messages={"required": MSG_EMPTY_PLAN},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key, text in INTAKE_CHECKLIST.items():
            self.fields[f"check_{key}"] = forms.BooleanField(label=text, required=True)
        self.fields["domains"].initial = list(EvaluationDomain.objects.filter(is_active=True))

    def transition_data(self):
        checklist = {key: self.cleaned_data.get(f"check_{key}", False) for key in INTAKE_CHECKLIST}
        return {"checklist": checklist, "domains": list(self.cleaned_data["domains"])}


class RequestInformationForm(TransitionForm):
    questions = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=20000)

    def transition_data(self):
        return {"questions": self.cleaned_data["questions"]}


class AnswerForm(TransitionForm):
    answer = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=50000)

    def transition_data(self):
        return {"answer": self.cleaned_data["answer"]}


class ClearForm(TransitionForm):
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)
    release_conditions = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
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
    released_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Released on")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def transition_data(self):
        return {"released_at": self.cleaned_data["released_on"], "note": self.cleaned_data["note"]}


class RemoveAccessForm(TransitionForm):
    order = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Government order",
        help_text="The order's reference and what it requires.",
    )

    def transition_data(self):
        return {"order": self.cleaned_data["order"]}


TRANSITION_FORMS = {
    "accept": AcceptForm,
    "request_information": RequestInformationForm,
    "answer_information_request": AnswerForm,
    "clear": ClearForm,
    "record_release": ReleaseForm,
    "remove_access": RemoveAccessForm,
}


def transition_form_class(name: str):
    return TRANSITION_FORMS.get(name, TransitionForm)
