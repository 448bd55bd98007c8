"""Filters for the administrators' lists and exports (one FilterSet serves both)."""

import django_filters
from django import forms

from accounts import rules
from reviews.models import Determination
from submissions.models import ModelSubmission, ReleaseChannel, SlaBreach, SlaKind, State

DATE = forms.DateInput(attrs={"type": "date"})


def developer_orgs(request):
    """The organizations to filter by: the developers of the asker's world only."""
    from submissions.models import Organization

    if request is None:
        return Organization.objects.none()
    return rules.scope_developer_organizations(request.user)


class BreachFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=SlaKind.choices, empty_label="Any kind")
    organization = django_filters.ModelChoiceFilter(
        field_name="submission__organization",
        queryset=developer_orgs,
        empty_label="Any organization",
        label="Organization",
    )
    detected_from = django_filters.DateFilter(
        field_name="detected_at", lookup_expr="date__gte", widget=DATE, label="Detected on or after"
    )
    detected_to = django_filters.DateFilter(
        field_name="detected_at", lookup_expr="date__lte", widget=DATE, label="Detected on or before"
    )
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at",
        lookup_expr="isnull",
        exclude=True,
        label="Acknowledged",
        widget=forms.Select(choices=[("", "Acknowledged or not"), ("true", "Acknowledged"), ("false", "Open")]),
    )
    order = django_filters.OrderingFilter(
        fields=(("detected_at", "detected"), ("due_at", "due"), ("kind", "kind")),
        empty_label="Newest first",
        label="Order",
    )

    class Meta:
        model = SlaBreach
        fields = []


class SubmissionFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=State.choices, empty_label="Any state")
    organization = django_filters.ModelChoiceFilter(queryset=developer_orgs, empty_label="Any organization")
    release_channel = django_filters.ChoiceFilter(choices=ReleaseChannel.choices, empty_label="Any channel")
    submitted_from = django_filters.DateFilter(
        field_name="submitted_at", lookup_expr="date__gte", widget=DATE, label="Submitted on or after"
    )
    submitted_to = django_filters.DateFilter(
        field_name="submitted_at", lookup_expr="date__lte", widget=DATE, label="Submitted on or before"
    )

    class Meta:
        model = ModelSubmission
        fields = []


class DeterminationFilter(django_filters.FilterSet):
    outcome = django_filters.ChoiceFilter(choices=Determination.Outcome.choices, empty_label="Any outcome")
    organization = django_filters.ModelChoiceFilter(
        field_name="submission__organization",
        queryset=developer_orgs,
        empty_label="Any organization",
        label="Organization",
    )
    issued_from = django_filters.DateFilter(
        field_name="issued_at", lookup_expr="date__gte", widget=DATE, label="Issued on or after"
    )
    issued_to = django_filters.DateFilter(
        field_name="issued_at", lookup_expr="date__lte", widget=DATE, label="Issued on or before"
    )

    class Meta:
        model = Determination
        fields = []
