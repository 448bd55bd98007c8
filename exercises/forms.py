import uuid

from django import forms

from caisi_portal.words import counted, speed_in_words

from .models import Objective

# Speeds offered by name: people choose "a day a minute", not a number of seconds.
SPEEDS = (60, 168, 720, 1440, 2880, 10080)


def speed_choices(current: float | None = None) -> list[tuple[str, str]]:
    """(value, words) for each offered speed, with the current one if it is not among them."""
    values = sorted({*SPEEDS, *([current] if current else [])})
    return [(f"{v:g}", speed_in_words(v)) for v in values]


class StartForm(forms.Form):
    # A new token each time the form is shown; services.exercise_create refuses a second use.
    start_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4, required=False)
    scenario = forms.ChoiceField(label="Scenario")
    speed = forms.TypedChoiceField(
        coerce=float,
        choices=speed_choices(),
        initial="1440",
        label="Speed",
        help_text="How fast simulated time runs while the exercise plays. Controllers can change it later.",
    )
    run = forms.BooleanField(required=False, initial=True, label="Start the simulated clock now")

    def __init__(self, *args, scenarios=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scenario"].choices = [
            (s.slug, f"{s.name} ({counted(s.data['duration_days'], 'simulated day')})") for s in scenarios
        ]


class ClockForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in ("start", "pause", "speed", "jump", "end")])
    speed = forms.FloatField(required=False, min_value=1, max_value=10080)
    to = forms.DateTimeField(required=False, label="Jump to (simulated, your time zone)")
    # Ending cannot be undone: the console asks the controller to confirm what it will do.
    confirm_end = forms.BooleanField(required=False)


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
