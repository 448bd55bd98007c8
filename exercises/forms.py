from django import forms

from .models import Objective


class StartForm(forms.Form):
    scenario = forms.ChoiceField(label="Scenario")
    speed = forms.FloatField(
        min_value=1,
        max_value=10080,
        initial=1440,
        help_text="Simulated seconds per real second (1440: a day a minute).",
    )
    run = forms.BooleanField(required=False, initial=True, label="Start the simulated clock now")

    def __init__(self, *args, scenarios=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scenario"].choices = [(s.slug, s.name) for s in scenarios]


class ClockForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in ("start", "pause", "speed", "jump", "end")])
    speed = forms.FloatField(required=False, min_value=1, max_value=10080)
    to = forms.DateTimeField(required=False, label="Jump to (simulated, your time zone)")


class ObservationForm(forms.Form):
    objective = forms.ModelChoiceField(queryset=Objective.objects.none())
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label="Observation")
    met = forms.TypedChoiceField(
        choices=[("", "Not judged"), ("yes", "Met"), ("no", "Not met")],
        coerce=lambda v: {"yes": True, "no": False}.get(v),
        required=False,
        empty_value=None,
        label="Objective met?",
    )

    def __init__(self, *args, exercise=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["objective"].queryset = exercise.objectives.all()


class ImprovementForm(forms.Form):
    objective = forms.ModelChoiceField(queryset=Objective.objects.none(), required=False)
    issue = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    corrective_action = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    owner = forms.CharField(max_length=200)
    due_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Due")

    def __init__(self, *args, exercise=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["objective"].queryset = exercise.objectives.all()
