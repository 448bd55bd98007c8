from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm

from .models import DigestCadence, Weekday


class TokenForm(forms.Form):
    token = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="Six-digit code",
        error_messages={"invalid": "Enter the six digits your authenticator app shows."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
    )


def _zones():
    import zoneinfo

    # "localtime" (and "Factory") name the server's own setting, not a place a person lives.
    places = sorted(z for z in zoneinfo.available_timezones() if z not in ("localtime", "Factory"))
    return [("", "UTC (the portal's default)")] + [(z, z) for z in places]


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


HOURS = [(h, f"{h:02d}:00") for h in range(24)]


def _hour_field(label, required=True, help_text=""):
    choices = HOURS if required else [("", "none"), *HOURS]
    return forms.TypedChoiceField(
        choices=choices, coerce=int, empty_value=None, required=required, label=label, help_text=help_text
    )


class DigestScheduleForm(forms.Form):
    """How often, and at what local hour, non-urgent notifications are emailed (people and
    partners share it). Only listed values are accepted: an hour is 00 to 23."""

    cadence = forms.ChoiceField(choices=DigestCadence.choices, label="Email me")
    digest_hour = _hour_field("Digest at", help_text="On your clock, in your time zone.")
    digest_weekday = forms.TypedChoiceField(
        choices=Weekday.choices, coerce=int, label="Weekly digest on", initial=Weekday.MONDAY
    )


class NotificationPreferenceForm(DigestScheduleForm):
    quiet_start = _hour_field("Quiet from", required=False)
    quiet_end = _hour_field("Quiet until", required=False, help_text="No email in these hours; held until they end.")

    def clean(self):
        data = super().clean()
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if (start is None) != (end is None):
            raise forms.ValidationError("Give both ends of your quiet hours, or neither.")
        if start is not None and start == end:
            raise forms.ValidationError("Quiet hours must start and end at different hours.")
        hour = data.get("digest_hour")
        if start is not None and hour is not None and data.get("cadence") != "immediate":
            inside = start <= hour < end if start < end else (hour >= start or hour < end)
            if inside:
                raise forms.ValidationError("Your digest hour falls in your quiet hours: choose another hour.")
        return data


class PartnerDigestForm(DigestScheduleForm):
    cadence = forms.ChoiceField(
        choices=DigestScheduleForm.base_fields["cadence"].choices,
        label="Email our addresses",
        help_text="Webhooks are always sent at once.",
    )
    digest_time_zone = forms.ChoiceField(choices=_zones, required=False, label="Time zone of the digest hour")
