from django import forms

from accounts.models import Clearance
from reviews.models import EvaluationDomain

from .models import BenchmarkVersion

THRESHOLD = {"max_digits": 9, "decimal_places": 3, "required": False}


class LevelsForm(forms.Form):
    elevated = forms.DecimalField(**THRESHOLD, label="Elevated at", help_text="Leave empty for no elevated line.")
    critical = forms.DecimalField(**THRESHOLD, label="Critical at", help_text="Leave empty for no critical line.")
    reason = forms.CharField(
        max_length=500, help_text="Why these lines: it stays in the version's history, with your name."
    )

    def levels(self) -> dict:
        return {k: self.cleaned_data.get(k) for k in ("elevated", "critical")}


def _aliases_field():
    return forms.CharField(
        label="Metric aliases",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="The Inspect metrics that give this score, one per line, as scorer/metric: for example "
        "match/accuracy for a log scored with match(). A log is read by the metric's own name first, then by "
        "these in order.",
    )


class AliasesForm(forms.Form):
    metric_aliases = _aliases_field()

    def aliases(self) -> list[str]:
        return self.cleaned_data["metric_aliases"].splitlines()


class VersionForm(LevelsForm):
    label = forms.CharField(max_length=40, help_text="For example 2.0 or 2026-11.")
    classification = forms.TypedChoiceField(coerce=int, choices=Clearance.choices)
    metric = forms.CharField(max_length=80, help_text="What the score is, for example accuracy or pass@1.")
    direction = forms.ChoiceField(choices=BenchmarkVersion.Direction.choices, widget=forms.RadioSelect)
    inspect_tasks = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        help_text="The Inspect task names whose logs give this version's score, one per line.",
    )
    metric_aliases = _aliases_field()
    field_order = [
        "label",
        "classification",
        "metric",
        "metric_aliases",
        "direction",
        "elevated",
        "critical",
        "inspect_tasks",
        "reason",
    ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Nobody makes a version they could not read.
        self.fields["classification"].choices = [(v, label) for v, label in Clearance.choices if v <= user.clearance]
        self.fields["reason"].initial = "First levels."

    def version_data(self) -> dict:
        d = self.cleaned_data
        return {
            "label": d["label"],
            "classification": d["classification"],
            "metric": d["metric"],
            "direction": d["direction"],
            "levels": self.levels(),
            "inspect_tasks": d["inspect_tasks"].splitlines(),
            "metric_aliases": d["metric_aliases"].splitlines(),
            "reason": d["reason"],
        }


class BenchmarkForm(VersionForm):
    domain = forms.ModelChoiceField(queryset=EvaluationDomain.objects.all())
    name = forms.CharField(max_length=120)
    slug = forms.SlugField(max_length=60, label="Short name", help_text="Letters, digits and hyphens: its address.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    field_order = ["domain", "name", "slug", "description", *VersionForm.field_order]

    def benchmark_data(self) -> dict:
        d = self.cleaned_data
        return {"domain": d["domain"], "name": d["name"], "slug": d["slug"], "description": d["description"]}


class RetireForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Why it is no longer used. Its scores and history stay.")
