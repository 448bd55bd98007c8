"""The form for a developer's webhook endpoint (the model checks the URL and the events)."""

from django import forms

from .models import DeveloperEventType


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="An https:// URL on the public internet, e.g. https://hooks.example.com/caisi.",
        widget=forms.URLInput(attrs={"class": "wide", "placeholder": "https://"}),
    )
    description = forms.CharField(
        label="Description", max_length=200, required=False, help_text="What it is for, for your colleagues."
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=DeveloperEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=DeveloperEventType.values,
        help_text="About your organization's own submissions.",
        error_messages={"required": "Choose at least one event to receive."},
    )
