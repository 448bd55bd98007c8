"""Suspending or terminating an agreement decides each open review: continue with a notice, or
withdraw; a reason is required, every choice is audited, and window changes touch only future
submissions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import rules
from caisi_portal.errors import ApplicationError, ValidationFailed
from partners.models import Event
from submissions import services
from submissions.models import Agreement, AuditEntry, ReviewClock, State
from tests.factories import move
from tests.submissions.clocks import told

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(cast):
    agreement = Agreement.objects.get(organization=cast.lab)
    keep = cast.submission(State.EVALUATION, model_name="Keep")
    end = cast.submission(State.INFORMATION_REQUESTED, model_name="End")
    return agreement, keep, end


def test_each_open_review_continues_or_is_withdrawn_as_chosen(cast, lab):
    agreement, keep, end = lab
    services.agreement_change_status(
        agreement=agreement,
        action="suspend",
        actor=cast.admin,
        note="Terms breached.",
        open_reviews={keep.pk: "continue", str(end.pk): "withdraw"},
    )
    keep.refresh_from_db(), end.refresh_from_db()
    assert agreement.status == Agreement.Status.SUSPENDED
    assert keep.state == State.EVALUATION and end.state == State.WITHDRAWN
    assert ReviewClock.objects.get(submission=end).status == ReviewClock.Status.STOPPED
    assert ReviewClock.objects.get(submission=keep).status == ReviewClock.Status.RUNNING
    ended = AuditEntry.objects.get(submission=end, action="withdraw_for_agreement")
    assert ended.actor == cast.admin and "suspended: Terms breached." in ended.comment
    kept = AuditEntry.objects.get(submission=keep, action="agreement_review_continues")
    assert "Terms breached." in kept.comment and "continues" in kept.comment
    assert set(told(keep, "submission.agreement_changed")) >= {cast.developer.username, cast.reviewer.username}
    assert cast.developer.username in told(end, "submission.withdrawn_by_office")
    trail = AuditEntry.objects.filter(submission__isnull=True).values_list("comment", flat=True)
    assert any(
        "status: signed → suspended (Terms breached.); Keep 1.0: continue; End 1.0: withdraw" in c for c in trail
    )


def test_nothing_is_decided_by_default(cast, lab):
    agreement, keep, _end = lab
    with pytest.raises(ValidationFailed, match=r"Choose what happens to each open review: End 1\.0") as refused:
        services.agreement_change_status(
            agreement=agreement, action="terminate", actor=cast.admin, note="Ended.", open_reviews={keep.pk: "continue"}
        )
    assert "open_reviews" in refused.value.details
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.SIGNED
    assert not Event.objects.filter(type="submission.agreement_changed").exists()


@pytest.mark.parametrize(
    "choices, message",
    [
        ({"999999": "continue"}, "Not an open review of Lab Alpha"),
        ({"keep": "pause", "end": "withdraw"}, "either continues or is withdrawn"),
    ],
)
def test_a_stray_or_unknown_choice_is_refused(cast, lab, choices, message):
    agreement, keep, end = lab
    ids = {"keep": str(keep.pk), "end": str(end.pk)}
    choices = {ids.get(k, k): v for k, v in choices.items()}
    with pytest.raises(ValidationFailed, match=message):
        services.agreement_change_status(
            agreement=agreement, action="suspend", actor=cast.admin, note="x", open_reviews=choices
        )


def test_choices_belong_only_to_suspending_or_terminating(cast, lab):
    agreement, keep, end = lab
    services.agreement_change_status(
        agreement=agreement,
        action="suspend",
        actor=cast.admin,
        note="x",
        open_reviews={keep.pk: "continue", end.pk: "continue"},
    )
    with pytest.raises(ValidationFailed, match="Only suspending or terminating"):
        services.agreement_change_status(
            agreement=agreement, action="reinstate", actor=cast.admin, note="y", open_reviews={keep.pk: "withdraw"}
        )


def test_the_office_cannot_withdraw_a_review_while_the_agreement_holds(cast, lab, client):
    agreement, keep, end = lab
    assert not rules.may_withdraw_for_agreement(keep, cast.admin)
    with pytest.raises(ApplicationError):
        move(keep, "withdraw_for_agreement", cast.admin)
    # Not offered (nor shown as blocked) beside every open review while the agreement holds.
    client.force_login(cast.admin)
    assert "agreement no longer covers it" not in client.get(keep.get_absolute_url()).content.decode()
    services.agreement_change_status(
        agreement=agreement,
        action="suspend",
        actor=cast.admin,
        note="x",
        open_reviews={keep.pk: "continue", end.pk: "continue"},
    )
    assert rules.may_withdraw_for_agreement(keep, cast.admin)
    for person in (cast.developer, cast.lead, cast.partner):
        assert not rules.may_withdraw_for_agreement(keep, person)
    # Later, the office may still end a review it let continue; the guard stands behind the rule.
    move(keep, "withdraw_for_agreement", cast.admin)
    keep.refresh_from_db()
    assert keep.state == State.WITHDRAWN


def test_the_page_lists_each_open_review_with_its_choices(cast, lab, client):
    agreement, keep, end = lab
    client.force_login(cast.admin)
    url = reverse("submissions:agreement_change", args=[agreement.pk])
    page = client.get(url).content.decode()
    assert page.count('value="continue"') == 2 and "nothing is decided by default" in page
    response = client.post(url, {"action": "suspend", "note": "Breach.", f"review-{keep.pk}": "continue"}, follow=True)
    assert "Choose what happens to each open review: End 1.0" in response.content.decode()
    client.post(
        url, {"action": "suspend", "note": "Breach.", f"review-{keep.pk}": "continue", f"review-{end.pk}": "withdraw"}
    )
    end.refresh_from_db()
    assert end.state == State.WITHDRAWN


def test_the_api_takes_the_choices(cast, lab):
    from tests.api.test_api import V1, assert_error, client_for

    agreement, keep, end = lab
    client = client_for(cast.admin)
    url = f"{V1}/agreements/{agreement.pk}/status/"
    error = assert_error(client.post(url, {"action": "suspend", "note": "x"}, format="json"), 400)
    assert "open_reviews" in error["details"]
    body = {"action": "suspend", "note": "x", "open_reviews": {str(keep.pk): "continue", str(end.pk): "withdraw"}}
    assert client.post(url, body, format="json").status_code == 200


def test_a_window_change_applies_to_future_submissions_only(cast, lab):
    agreement, keep, _ = lab
    before = ReviewClock.objects.get(submission=keep).deadline_at
    services.agreement_set_window(agreement=agreement, actor=cast.admin, days=10)
    assert ReviewClock.objects.get(submission=keep).deadline_at == before
    later = cast.submission(State.INTAKE, model_name="Later")
    clock = ReviewClock.objects.get(submission=later)
    assert clock.window.days == 10
