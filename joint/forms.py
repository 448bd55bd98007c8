from django import forms

from accounts import rules
from accounts.models import Clearance
from caisi_portal.text import validate_multi_line, validate_single_line
from submissions.models import Organization


class InviteForm(forms.Form):
    institute = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        to_field_name="slug",
        label="Allied institute",
        help_text="Its staff see the review once they accept, within its data-sharing arrangement's cap.",
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
        validators=[validate_multi_line],
        label="What the office asks of the institute",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institute"].queryset = rules.scope_allied_institutes(Organization.objects.all(), user).order_by(
            "name"
        )


class RespondForm(forms.Form):
    answer = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])


class ArrangementForm(forms.Form):
    institute = forms.ModelChoiceField(
        queryset=Organization.objects.none(), to_field_name="slug", label="Allied institute"
    )
    reference = forms.CharField(max_length=120, validators=[validate_single_line])
    classification_cap = forms.TypedChoiceField(
        choices=Clearance.choices,
        coerce=int,
        label="Classification cap",
        help_text="The highest classification the institute's staff may see.",
    )
    starts_on = forms.DateField(label="Starts on", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(
        label="Ends on", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: open-ended."
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institute"].queryset = rules.scope_allied_institutes(Organization.objects.all(), user).order_by(
            "name"
        )


class EndArrangementForm(forms.Form):
    reason = forms.CharField(max_length=500, validators=[validate_single_line], label="Why it ends")
