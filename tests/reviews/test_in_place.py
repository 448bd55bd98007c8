"""Results, findings and assignments sent in place by htmx: what the server answers.

A mistake answers 422 with the submission page, the form back in its section (opened)
with its message; success redirects to the page, which htmx follows and takes the
updated section from. Without htmx the same posts behave as ordinary forms.
"""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews.models import Assignment, ConflictOfInterest, EvaluationDomain, EvaluationResult, Finding
from submissions.models import State
from tests.factories import reference_version

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def section(html, section_id):
    match = re.search(rf'<section class="card[^"]*" id="{section_id}">(.*?)</section>', html, re.S)
    assert match, f"no #{section_id} section"
    return match.group(1)


def test_a_result_recorded_in_place_shows_in_the_plan(cast, client):
    s = cast.submission(State.EVALUATION)
    domain = EvaluationDomain.objects.order_by("pk").first()
    client.force_login(cast.reviewer)
    url = reverse("reviews:record_result", args=[s.pk])

    done = client.post(url, {"version": reference_version(domain).pk, "score": "0.42"}, **HX)
    assert done.status_code == 302 and done["Location"] == s.get_absolute_url()
    page = client.get(done["Location"]).content.decode()
    assert "0.420" in section(page, "results")
    assert "Result recorded." in page and 'id="messages"' in page and 'id="timeline"' in page

    bad = client.post(url, {"version": reference_version(domain).pk, "score": "high"}, **HX)
    assert bad.status_code == 422
    results = section(bad.content.decode(), "results")
    assert "<details open>" in results and 'aria-invalid="true"' in results
    assert "Enter a number." in results
    assert EvaluationResult.objects.filter(submission=s).count() == 1


def test_a_finding_above_the_authors_clearance_is_refused_in_place(cast, client):
    s = cast.submission(State.EVALUATION)
    domain = EvaluationDomain.objects.order_by("pk").first()
    client.force_login(cast.low_reviewer)
    url = reverse("reviews:record_finding", args=[s.pk])
    fields = {"domain": domain.pk, "severity": "high", "title": "Uplift", "description": "Found."}

    # No marking is chosen for the author: left blank, the finding is refused with why.
    form = section(client.get(reverse("submissions:detail", args=[s.pk])).content.decode(), "findings")
    assert '<option value="" selected>Choose a classification</option>' in form
    unmarked = client.post(url, fields, **HX)
    assert unmarked.status_code == 422
    assert "it decides who may read it" in section(unmarked.content.decode(), "findings")

    bad = client.post(url, {**fields, "classification": 3}, **HX)
    assert bad.status_code == 422
    findings = section(bad.content.decode(), "findings")
    # The form only offers markings up to the author's clearance.
    assert "<details open>" in findings and "Select a valid choice." in findings
    assert not Finding.objects.filter(submission=s).exists()

    done = client.post(url, {**fields, "classification": 0}, **HX)
    assert done.status_code == 302
    assert "Uplift" in section(client.get(done["Location"]).content.decode(), "findings")


def test_a_conflicted_reviewer_is_refused_in_place_and_nothing_is_assigned(cast, client):
    s = cast.submission(State.INTAKE)
    ConflictOfInterest.objects.create(
        reviewer=cast.unassigned_reviewer,
        organization=cast.lab,
        kind=ConflictOfInterest.Kind.AFFILIATION,
        declared_at=timezone.now(),
    )
    client.force_login(cast.admin)
    url = reverse("reviews:assign", args=[s.pk])

    bad = client.post(url, {"reviewer": cast.unassigned_reviewer.pk, "role": "member"}, **HX)
    assert bad.status_code == 422
    reviewers = section(bad.content.decode(), "reviewers")
    assert "conflict" in reviewers.lower() and 'id="assign-submit"' in reviewers
    assert not Assignment.objects.filter(submission=s, reviewer=cast.unassigned_reviewer).exists()

    done = client.post(url, {"reviewer": cast.reviewer.pk, "role": "member"}, **HX)
    assert done.status_code == 302
    assert str(cast.reviewer) in section(client.get(done["Location"]).content.decode(), "reviewers")


def test_without_htmx_a_mistake_is_the_form_page(cast, client):
    s = cast.submission(State.EVALUATION)
    client.force_login(cast.reviewer)
    bad = client.post(reverse("reviews:record_result", args=[s.pk]), {"score": "x"})
    assert bad.status_code == 400
    assert "Record an evaluation result" in bad.content.decode()


def test_someone_without_the_right_gets_no_page_in_place(cast, client):
    s = cast.submission(State.EVALUATION)
    client.force_login(cast.developer)  # the owning lab: sees the submission, may not record
    domain = EvaluationDomain.objects.order_by("pk").first()
    refused = client.post(
        reverse("reviews:record_result", args=[s.pk]), {"version": reference_version(domain).pk, "score": "0.1"}, **HX
    )
    assert refused.status_code == 403
    assert "Evaluation plan and results" not in refused.content.decode()


def test_a_flag_proposed_in_place_shows_the_proposal_and_a_missing_rationale_is_refused(cast, client):
    s = cast.submission(State.EVALUATION)
    client.force_login(cast.lead)
    url = reverse("reviews:propose_flag", args=[s.pk])

    bad = client.post(url, {"rationale": ""}, **HX)
    assert bad.status_code == 422
    html = bad.content.decode()
    determination = html[html.index('<div id="determination">') : html.index('id="timeline"')]
    assert "<details open>" in determination and "This field is required." in determination

    no_summary = client.post(url, {"rationale": "Meaningful uplift."}, **HX)
    assert no_summary.status_code == 422 and b"must never be empty" in no_summary.content

    done = client.post(url, {"rationale": "Meaningful uplift.", "partner_summary": "Flagged: do not deploy."}, **HX)
    assert done.status_code == 302
    page = client.get(done["Location"]).content.decode()
    determination = page[page.index('<div id="determination">') : page.index('id="timeline"')]
    assert "Proposal, not yet issued: flag" in determination and "Meaningful uplift." in determination
