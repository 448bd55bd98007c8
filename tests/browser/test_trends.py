"""Capability trends in a real Chromium: from a submission's page to its benchmark's trend."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reviews import evidence
from submissions.models import ModelSubmission, State
from tests.factories import clear_against_evidence, move, record_all_results, reference_version

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True), pytest.mark.browser]


def _reviewed(cast, version, score, days_ago):
    s = cast.submission(State.EVALUATION, model_name="Trend-Sim", model_version=version)
    record_all_results(s, cast.reviewer, score=score)
    if evidence.concerns(s):
        clear_against_evidence(s, cast.lead, cast.reviewer)
    else:
        move(s, "clear", cast.lead, partner_summary="Cleared.")
    # Placed in the past, as if reviewed then: the trend orders models by when they were submitted.
    ModelSubmission.objects.filter(pk=s.pk).update(submitted_at=timezone.now() - dt.timedelta(days=days_ago))
    return s


def test_a_lead_opens_the_trend_from_a_submission_and_reads_the_chart_and_its_figures(cast, journey):
    from reviews.models import EvaluationDomain

    _reviewed(cast, "1", "0.2", 90)
    _reviewed(cast, "2", "0.45", 60)
    _reviewed(cast, "3", "0.3", 30)
    running = cast.submission(State.EVALUATION, model_name="Trend-Sim", model_version="4")
    record_all_results(running, cast.reviewer, score="0.52")
    version = reference_version(EvaluationDomain.objects.order_by("sort_order").first())

    page = journey.sign_in(cast.lead)
    journey.go(f"/submissions/{running.pk}/")
    section = page.locator("#compared")
    expect(section.get_by_role("heading", name="Compared with earlier models")).to_be_visible()
    row = section.locator("tr", has_text=str(version))
    expect(row.locator('td[data-label="Previous version"]')).to_contain_text("3: 0.300")
    expect(row.locator('td[data-label="Change"]')).to_have_text("+0.220")
    expect(row.locator('td[data-label="Frontier then"]')).to_have_text("0.450")
    expect(row.locator('td[data-label="Against the frontier"]')).to_contain_text("past the frontier")
    journey.check("submission compared with earlier models")

    row.get_by_role("link", name=f"Trends of {version}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Capability trends")
    chart = page.locator(f'canvas[data-chart="trend-{version.pk}"]')
    expect(chart).to_be_visible()
    # Drawn by our own Chart.js: the chart holds the series the page embedded.
    names = page.evaluate(
        "(id) => Chart.getChart(document.querySelector(`canvas[data-chart='${id}']`)).data.datasets.map(d => d.label)",
        f"trend-{version.pk}",
    )
    assert names[:4] == ["Reviewed models", "Frontier (best so far)", "Elevated level", "Critical level"]
    assert names[-1].startswith("This submission")
    figures = page.locator(f"#version-{version.pk} .chart-table table")
    expect(figures).to_be_visible()
    expect(figures.locator("tbody tr")).to_have_count(4)
    expect(figures.locator("tbody tr").nth(0).locator('td[data-label="Frontier at the time"]')).to_have_text(
        "none before it"
    )
    highlighted = figures.locator("tbody tr.highlighted")
    expect(highlighted).to_contain_text("(this submission)")
    expect(highlighted.locator('td[data-label="Frontier at the time"]')).to_have_text("0.450")
    expect(highlighted.locator('td[data-label="Score"]')).to_contain_text("review not ended")
    journey.check("capability trends")
    journey.assert_accessible()
