from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm


class TokenForm(forms.Form):
    token = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="Six-digit code",
        error_messages={"invalid": "Enter the six digits your authenticator app shows."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
    )


def _zones():
    import zoneinfo

    return [("", "UTC (the portal's default)")] + [(z, z) for z in sorted(zoneinfo.available_timezones())]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        choices=_zones, required=False, label="Your time zone", help_text="Dates and times are shown in it."
    )


class SignInForm(AuthenticationForm):
    """Django's sign-in form; an exercise account that may no longer sign in is told why,
    but only once its password is right (so the message tells a guesser nothing)."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            from . import rules

            username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
            found = get_user_model().objects.filter(username=username, exercise__isnull=False).first()
            if found is not None and password and found.check_password(password):
                reason = rules.sign_in_refusal(found)
                if reason:
                    raise forms.ValidationError(reason, code="exercise_sign_in_refused") from None
            raise
