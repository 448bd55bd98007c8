"""New versions of a model: a submission supersedes an earlier version of the same model; its
page compares results per domain, the earlier version's open findings are carried forward and
must be resolved before clearing, and the office may scope the re-review at acceptance."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import Clearance
from caisi_portal.errors import NotPermitted, TransitionRefused, ValidationFailed
from reviews import services as review_services
from reviews.models import Assignment, EvaluationDomain, Finding
from submissions import selectors, services, versions
from submissions.guards import carried_findings_resolved
from submissions.models import AuditEntry, ModelSubmission, ReviewClock, State
from submissions.review_clock import clock_deadline
from tests.factories import Cast, draft, move, record_all_results, serious_finding
from tests.factories import token_client as api

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def moderate_finding(submission, reviewer, **extra):
    """A finding that needs resolving but no justification to clear against."""
    return serious_finding(submission, reviewer, severity=Finding.Severity.MODERATE, **extra)


def new_version(cast, earlier, version="2.0", **fields):
    return draft(cast.developer, model_name=earlier.model_name, model_version=version, supersedes=earlier, **fields)


def in_evaluation(cast, submission, **accept):
    """Submit, accept (with the given inputs) and staff a draft as the cast does."""
    move(submission, "submit", cast.developer)
    move(submission, "accept", cast.admin, **accept)
    for person, role in ((cast.lead, "lead"), (cast.reviewer, "member"), (cast.low_reviewer, "member")):
        # A carried SECRET finding puts the CUI reviewer below the evidence: assigned knowingly.
        review_services.assignment_create(
            submission=submission, reviewer=person, role=role, actor=cast.admin, acknowledge_clearance_gap=True
        )
    submission.refresh_from_db()
    return submission


def refusal(call) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refused:
        call()
    return refused.value


# --- choosing the earlier version ----------------------------------------------------------------


def test_a_draft_supersedes_a_determined_earlier_version_of_the_same_model(cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    v2 = new_version(cast, v1)
    assert v2.supersedes == v1
    entry = AuditEntry.objects.get(submission=v2, action="supersedes_chosen")
    assert str(v1) in entry.comment


@pytest.mark.parametrize("state", [State.CLEARED, State.FLAGGED, State.RELEASED, State.WINDOW_ELAPSED])
def test_every_ended_review_may_be_superseded(cast, state):
    v1 = cast.submission(state, model_name="Orion")
    assert new_version(cast, v1).supersedes_id == v1.pk


def test_the_model_name_is_compared_without_case_or_spaces(cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    assert draft(cast.developer, model_name=" orion ", model_version="2", supersedes=v1.pk).supersedes_id == v1.pk


def test_another_organizations_submission_is_refused_as_not_yours(cast):
    theirs = draft(cast.other_developer, model_name="Orion")
    assert ModelSubmission.objects.filter(pk=theirs.pk).exists()  # it exists; the answer does not say so
    refused = refusal(lambda: draft(cast.developer, model_name="Orion", supersedes=theirs.pk))
    missing = refusal(lambda: draft(cast.developer, model_name="Orion", supersedes=10**9))
    assert "not one of them" in refused.message
    # The same words whether it exists elsewhere or not at all: nothing is learnt about others.
    assert refused.message.replace(f"#{theirs.pk}", "#N") == missing.message.replace(f"#{10**9}", "#N")
    assert refused.details == {"supersedes": [refused.message]}


def test_nonsense_is_refused_as_not_yours(cast):
    for value in ("abc", True, 3.5, {"pk": 1}):
        assert "not one of them" in refusal(lambda v=value: draft(cast.developer, supersedes=v)).message


def test_a_submission_cannot_supersede_itself(cast):
    d = draft(cast.developer, model_name="Orion")
    refused = refusal(lambda: services.submission_update_draft(submission=d, actor=cast.developer, supersedes=d.pk))
    assert refused.message == versions.MSG_ITSELF
    # And the database says so too, whoever writes.
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelSubmission.objects.filter(pk=d.pk).update(supersedes=d)


def test_a_later_submission_cannot_be_superseded(cast):
    older_draft = draft(cast.developer, model_name="Orion", model_version="0.9")
    later = cast.submission(State.CLEARED, model_name="Orion", model_version="1.0")
    refused = refusal(
        lambda: services.submission_update_draft(submission=older_draft, actor=cast.developer, supersedes=later.pk)
    )
    assert "was filed after this submission" in refused.message


def test_a_chain_loop_is_refused(cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    v2 = new_version(cast, v1)
    # Only hand-edited data can make one: the earlier version made to supersede its successor.
    ModelSubmission.objects.filter(pk=v1.pk).update(supersedes=v2)
    v1.refresh_from_db()
    refused = refusal(
        lambda: services.submission_update_draft(submission=v2, actor=cast.developer, intended_use="Again.")
    )
    assert "would make a loop" in refused.message


def test_another_model_is_refused_with_the_names(cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    refused = refusal(lambda: draft(cast.developer, model_name="Vega", supersedes=v1))
    assert "is another model" in refused.message and "Vega" in refused.message


def test_renaming_a_draft_checks_its_earlier_version_again(cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    v2 = new_version(cast, v1)
    refused = refusal(lambda: services.submission_update_draft(submission=v2, actor=cast.developer, model_name="Vega"))
    assert "is another model" in refused.message
    # Unlinking is always possible.
    services.submission_update_draft(submission=v2, actor=cast.developer, model_name="Vega", supersedes=None)
    v2.refresh_from_db()
    assert v2.supersedes_id is None and v2.model_name == "Vega"


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (State.DRAFT, "is still a draft:"),
        (State.INTAKE, "is in intake:"),
        (State.EVALUATION, "is under evaluation:"),
        (State.WITHDRAWN, "was withdrawn"),
    ],
)
def test_a_version_whose_review_has_not_ended_is_refused(cast, state, words):
    v1 = cast.submission(state, model_name="Orion")
    refused = refusal(lambda: new_version(cast, v1))
    assert words in refused.message


def test_a_version_is_superseded_once_and_a_withdrawn_successor_frees_it(cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    v2 = new_version(cast, v1)
    refused = refusal(lambda: new_version(cast, v1, version="2.1"))
    assert f"already superseded by {v2}" in refused.message
    move(v2, "withdraw", cast.developer)
    assert new_version(cast, v1, version="2.1").supersedes_id == v1.pk


def test_only_a_draft_chooses(cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    v2 = new_version(cast, v1)
    move(v2, "submit", cast.developer)
    with pytest.raises(TransitionRefused):
        services.submission_update_draft(submission=v2, actor=cast.developer, supersedes=None)


def test_a_supersedes_link_never_crosses_worlds():
    from accounts.roles import Role
    from exercises import scenarios
    from exercises import services as exercise_services
    from tests.factories import UserFactory

    live = Cast(mark="LV")
    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=live.office)
    exercise = exercise_services.exercise_create(
        scenario=scenarios.by_slug("routine-review"), actor=controller
    ).exercise
    played = Cast(exercise=exercise, mark="XR")
    live_v1 = live.submission(State.CLEARED, model_name="Orion")
    played_v1 = played.submission(State.CLEARED, model_name="Orion")
    # Each world's lab is "Lab Alpha" and the model name is the same: still not theirs.
    assert "not one of them" in refusal(lambda: draft(played.developer, model_name="Orion", supersedes=live_v1)).message
    assert "not one of them" in refusal(lambda: draft(live.developer, model_name="Orion", supersedes=played_v1)).message
    assert draft(played.developer, model_name="Orion", model_version="2", supersedes=played_v1).exercise_id == (
        exercise.pk
    )


# --- carried findings and the clear guard ----------------------------------------------------------


def test_accepting_a_new_version_carries_the_open_findings_forward(cast):
    v1 = cast.submission(State.EVALUATION, model_name="Orion")
    record_all_results(v1, cast.reviewer)
    first = moderate_finding(v1, cast.reviewer)
    secret = moderate_finding(v1, cast.reviewer, classification=Clearance.SECRET)
    move(v1, "clear", cast.lead)
    v2 = in_evaluation(cast, new_version(cast, v1))
    carried = list(v2.findings.order_by("pk"))
    assert [f.carried_from_id for f in carried] == [first.pk, secret.pk]
    assert [(f.title, f.classification, f.severity) for f in carried] == [
        (first.title, first.classification, first.severity),
        (secret.title, secret.classification, secret.severity),
    ]
    assert all(f.is_carried and f.is_open for f in carried)
    entry = AuditEntry.objects.get(submission=v2, action="findings_carried")
    assert entry.internal and "2 open findings" in entry.comment and secret.title not in entry.comment
    # A finding is carried once, whatever happens.
    with pytest.raises(IntegrityError), transaction.atomic():
        review_services.findings_carry_forward(submission=v2, actor=cast.admin)


def test_clearing_waits_for_every_carried_finding_and_says_why(cast):
    v1 = cast.submission(State.EVALUATION, model_name="Orion")
    record_all_results(v1, cast.reviewer)
    moderate_finding(v1, cast.reviewer)
    move(v1, "clear", cast.lead)
    v2 = in_evaluation(cast, new_version(cast, v1))
    record_all_results(v2, cast.reviewer)
    with pytest.raises(TransitionRefused) as refused:
        move(v2, "clear", cast.lead)
    assert refused.value.message == carried_findings_resolved(v2)[0]
    assert f"1 finding carried from {v1} is still unresolved" in refused.value.message
    carried = v2.findings.get()
    review_services.finding_resolve(finding=carried, actor=cast.lead, reason="Retrained: the exploit no longer works.")
    move(v2, "clear", cast.lead)
    assert v2.state == State.CLEARED


def test_a_later_version_carries_only_what_is_still_open(cast):
    v1 = cast.submission(State.EVALUATION, model_name="Orion")
    record_all_results(v1, cast.reviewer)
    moderate_finding(v1, cast.reviewer)
    move(v1, "clear", cast.lead)
    v2 = in_evaluation(cast, new_version(cast, v1))
    record_all_results(v2, cast.reviewer)
    review_services.finding_resolve(finding=v2.findings.get(), actor=cast.lead, reason="Fixed in 2.0.")
    fresh = moderate_finding(v2, cast.reviewer)
    move(v2, "clear", cast.lead)
    v3 = in_evaluation(cast, new_version(cast, v2, version="3.0"))
    assert [f.carried_from_id for f in v3.findings.all()] == [fresh.pk]


def test_only_the_lead_cleared_for_it_resolves_with_a_reason(cast):
    v1 = cast.submission(State.EVALUATION, model_name="Orion")
    record_all_results(v1, cast.reviewer)
    open_one = moderate_finding(v1, cast.reviewer)
    moderate_finding(v1, cast.reviewer, classification=Clearance.SECRET)
    move(v1, "clear", cast.lead)
    v2 = in_evaluation(cast, new_version(cast, v1))
    plain, secret = v2.findings.order_by("pk")
    for who in (cast.reviewer, cast.admin, cast.developer, cast.other_developer):
        with pytest.raises(NotPermitted):
            review_services.finding_resolve(finding=plain, actor=who, reason="Fixed.")
    # A lead below the finding's classification may not resolve it.
    cast.lead.clearance = Clearance.CUI
    cast.lead.save()
    with pytest.raises(NotPermitted):
        review_services.finding_resolve(finding=secret, actor=cast.lead, reason="Fixed.")
    cast.lead.clearance = Clearance.SECRET
    cast.lead.save()
    for blank in ("", "   ", "\u200b"):
        assert (
            "Say why"
            in refusal(
                lambda b=blank: review_services.finding_resolve(finding=plain, actor=cast.lead, reason=b)
            ).message
        )
    review_services.finding_resolve(finding=plain, actor=cast.lead, reason="Retrained.")
    review_services.finding_resolve(finding=secret, actor=cast.lead, reason="The SECRET detail is fixed.")
    with pytest.raises(TransitionRefused):
        review_services.finding_resolve(finding=plain, actor=cast.lead, reason="Again.")
    plain.refresh_from_db()
    assert plain.resolved_by == cast.lead and plain.resolution == "Retrained."
    entries = list(AuditEntry.objects.filter(submission=v2, action="finding_resolved").order_by("pk"))
    assert "Retrained." in entries[0].comment
    # A classified finding's reason stays with it, out of the trail.
    assert "SECRET detail" not in entries[1].comment and "kept with the finding" in entries[1].comment
    # A finding recorded on this review itself is not "resolved" here.
    own = moderate_finding(v2, cast.reviewer)
    assert refusal(lambda: review_services.finding_resolve(finding=own, actor=cast.lead, reason="No.")).message
    assert open_one.resolved_at is None  # the earlier version's own record is untouched


# --- the re-review's scope -------------------------------------------------------------------------


def test_the_office_scopes_a_re_review_to_a_smaller_plan_and_a_shorter_window(cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    cyber = EvaluationDomain.objects.order_by("sort_order").first()
    v2 = in_evaluation(cast, new_version(cast, v1), domains=[cyber], window_days=10)
    review_clock = ReviewClock.objects.get(submission=v2)
    assert review_clock.window == dt.timedelta(days=10)
    assert review_clock.deadline_at == clock_deadline(review_clock.started_at, dt.timedelta(days=10), dt.timedelta(0))
    assert list(v2.plan_items.values_list("domain", flat=True)) == [cyber.pk]
    entry = AuditEntry.objects.get(submission=v2, action="review_window_scoped")
    assert "10-day window" in entry.comment


@pytest.mark.parametrize(
    ("days", "words"),
    [(0, "between 1 day and the agreement's 30-day"), (31, "between 1 day"), ("10", "whole number"), (True, "whole")],
)
def test_a_re_review_window_outside_the_agreement_is_refused(cast, days, words):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    v2 = new_version(cast, v1)
    move(v2, "submit", cast.developer)
    refused = refusal(lambda: move(v2, "accept", cast.admin, window_days=days))
    assert words in refused.message
    v2.refresh_from_db()
    assert v2.state == State.INTAKE


def test_only_a_new_version_gets_a_shorter_window(cast):
    s = cast.submission(State.INTAKE)
    assert refusal(lambda: move(s, "accept", cast.admin, window_days=5)).message == versions.MSG_WINDOW_NOT_REREVIEW


def test_a_window_that_would_already_have_ended_is_refused(traveller, cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    v2 = new_version(cast, v1)
    move(v2, "submit", cast.developer)
    traveller.shift(dt.timedelta(days=4, hours=1))
    refused = refusal(lambda: move(v2, "accept", cast.admin, window_days=4))
    assert "would already have ended: choose at least 5 days" in refused.message
    move(v2, "accept", cast.admin, window_days=5)
    assert ReviewClock.objects.get(submission=v2).window == dt.timedelta(days=5)


# --- deltas, as each reader may see them -------------------------------------------------------------


def deltas_setup(cast):
    v1 = cast.submission(State.EVALUATION, model_name="Orion")
    record_all_results(v1, cast.reviewer, score=0.2)
    move(v1, "clear", cast.lead)
    v2 = in_evaluation(cast, new_version(cast, v1))
    record_all_results(v2, cast.reviewer, score=0.35)
    review_services.assignment_create(
        submission=v2, reviewer=cast.unassigned_reviewer, role=Assignment.Role.MEMBER, actor=cast.admin
    )
    return v1, v2


def test_deltas_compare_each_domain_now_and_then(cast):
    from decimal import Decimal

    v1, v2 = deltas_setup(cast)
    deltas = selectors.version_deltas(v2, cast.admin)
    assert deltas["earlier"] == v1 and not deltas["then_hidden"]
    assert len(deltas["rows"]) == v2.plan_items.count()
    for row in deltas["rows"]:
        assert row["then"].score == Decimal("0.200") and row["now"].score == Decimal("0.350")
        assert row["change"] == Decimal("0.150")


def test_a_scoped_re_review_says_which_benchmarks_are_not_in_its_plan(cast, client):
    v1 = cast.submission(State.EVALUATION, model_name="Orion")
    record_all_results(v1, cast.reviewer, score=0.2)
    move(v1, "clear", cast.lead)
    cyber = EvaluationDomain.objects.order_by("sort_order").first()
    v2 = in_evaluation(cast, new_version(cast, v1), domains=[cyber])
    rows = selectors.version_deltas(v2, cast.admin)["rows"]
    assert [(r["domain"], r["planned"]) for r in rows if r["planned"]] == [(cyber, True)]
    assert len(rows) == v1.plan_items.count() and all(r["now"] is None for r in rows)
    client.force_login(cast.lead)
    page = client.get(reverse("submissions:detail", args=[v2.pk])).content.decode()
    assert page.count("not in this review's plan") == len(rows) - 1 and "no result yet" in page


def test_results_hidden_from_a_reader_stay_hidden_in_the_deltas(cast):
    _v1, v2 = deltas_setup(cast)
    # On the new version's review only: this version's scores, never the earlier one's.
    newcomer = selectors.version_deltas(v2, cast.unassigned_reviewer)
    assert newcomer["then_hidden"] and all(r["then"] is None and r["change"] is None for r in newcomer["rows"])
    assert all(r["now"] is not None for r in newcomer["rows"])
    # The developer and a partner see no results at all, so no deltas.
    for who in (cast.developer, cast.partner, cast.other_developer):
        assert selectors.version_deltas(v2, who) is None


# --- pages -----------------------------------------------------------------------------------------


def test_the_draft_form_offers_the_earlier_versions_and_refuses_in_words(cast, client):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    other = cast.submission(State.CLEARED, model_name="Vega")
    client.force_login(cast.developer)
    page = client.get(reverse("submissions:create")).content.decode()
    assert "New version of" in page and str(v1) in page and str(other) in page
    fields = {
        "model_name": "Orion",
        "model_version": "2.0",
        "release_channel": "api",
        "supersedes": str(v1.pk),
    }
    response = client.post(reverse("submissions:create"), fields)
    assert response.status_code == 302
    made = ModelSubmission.objects.get(model_name="Orion", model_version="2.0")
    assert made.supersedes == v1
    wrong = client.post(reverse("submissions:create"), {**fields, "model_version": "3.0", "supersedes": other.pk})
    assert wrong.status_code == 400 and "is another model" in wrong.content.decode()
    # Another lab's submission is not even a choice.
    theirs = cast.submission(State.DRAFT, model_name="Orion", model_version="0.5")
    ModelSubmission.objects.filter(pk=theirs.pk).update(organization=cast.other_lab)
    assert client.post(reverse("submissions:create"), {**fields, "supersedes": theirs.pk}).status_code == 400


def test_the_page_shows_deltas_carried_findings_and_why_clearing_waits(cast, client):
    v1 = cast.submission(State.EVALUATION, model_name="Orion")
    record_all_results(v1, cast.reviewer, score=0.2)
    moderate_finding(v1, cast.reviewer)
    move(v1, "clear", cast.lead)
    v2 = in_evaluation(cast, new_version(cast, v1))
    record_all_results(v2, cast.reviewer, score=0.3)
    carried = v2.findings.get()
    client.force_login(cast.lead)
    page = client.get(v2.get_absolute_url()).content.decode()
    assert "Results against" in page and "+0.100" in page
    assert "Carried forward" in page and f'href="{v1.get_absolute_url()}#findings"' in page
    assert "Every finding carried from the earlier version resolved" in page
    assert carried_findings_resolved(v2)[0] in page
    assert reverse("reviews:resolve_finding", args=[v2.pk, carried.pk]) in page
    response = client.post(reverse("reviews:resolve_finding", args=[v2.pk, carried.pk]), {"reason": "Retrained."})
    assert response.status_code == 302
    carried.refresh_from_db()
    assert carried.resolution == "Retrained."
    page = client.get(v2.get_absolute_url()).content.decode()
    assert "Why it no longer holds" in page and "Retrained." in page
    # The earlier version names its successor.
    assert f'href="{v2.get_absolute_url()}"' in client.get(v1.get_absolute_url()).content.decode()


def test_the_developer_sees_the_link_but_no_results(cast, client):
    _v1, v2 = deltas_setup(cast)
    client.force_login(cast.developer)
    page = client.get(v2.get_absolute_url()).content.decode()
    assert "A new version of" in page and "Results against" not in page


def test_resolving_on_the_page_is_refused_to_others(cast, client):
    v1 = cast.submission(State.EVALUATION, model_name="Orion")
    record_all_results(v1, cast.reviewer)
    moderate_finding(v1, cast.reviewer)
    move(v1, "clear", cast.lead)
    v2 = in_evaluation(cast, new_version(cast, v1))
    carried = v2.findings.get()
    url = reverse("reviews:resolve_finding", args=[v2.pk, carried.pk])
    client.force_login(cast.reviewer)
    assert client.post(url, {"reason": "Mine."}).status_code == 403
    client.force_login(cast.developer)  # sees the submission, never the office's findings
    assert client.post(url, {"reason": "Mine."}).status_code == 404
    client.force_login(cast.other_developer)
    assert client.post(url, {"reason": "Mine."}).status_code == 404
    client.force_login(cast.lead)
    response = client.post(url, {"reason": " "})
    assert response.status_code == 302
    carried.refresh_from_db()
    assert carried.resolved_at is None


def test_the_accept_page_offers_the_re_review_window(cast, client):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    v2 = new_version(cast, v1)
    move(v2, "submit", cast.developer)
    client.force_login(cast.admin)
    url = reverse("submissions:action", args=[v2.pk, "accept"])
    page = client.get(url).content.decode()
    assert "Re-review window (days)" in page and f"This is a new version of {v1}" in page
    first = EvaluationDomain.objects.order_by("sort_order").first()
    data = {"expected_state": "intake", "domains": [first.pk], "window_days": "12"}
    data |= {f"check_{k}": "on" for k in services.INTAKE_CHECKLIST}
    assert client.post(url, data).status_code == 302
    assert ReviewClock.objects.get(submission=v2).window == dt.timedelta(days=12)
    # A first review's accept page has no such field.
    other = cast.submission(State.INTAKE)
    assert (
        "Re-review window" not in client.get(reverse("submissions:action", args=[other.pk, "accept"])).content.decode()
    )


# --- the API -----------------------------------------------------------------------------------------


def test_the_api_files_a_new_version_and_refuses_another_labs(cast):
    v1 = cast.submission(State.CLEARED, model_name="Orion")
    theirs = cast.submission(State.CLEARED, model_name="Orion", model_version="0.1")
    ModelSubmission.objects.filter(pk=theirs.pk).update(organization=cast.other_lab)
    body = {"model_name": "Orion", "model_version": "2.0", "release_channel": "api"}
    made = api(cast.developer).post(f"{V1}/submissions/", {**body, "supersedes": v1.pk}, format="json")
    assert made.status_code == 201 and made.json()["supersedes"] == v1.pk
    refused = api(cast.developer).post(
        f"{V1}/submissions/", {**body, "model_version": "3.0", "supersedes": theirs.pk}, format="json"
    )
    assert refused.status_code == 400
    assert "not one of them" in refused.json()["error"]["details"]["supersedes"][0]
    itself = api(cast.developer).patch(f"{V1}/submissions/{made.json()['id']}/", {"supersedes": made.json()["id"]})
    assert itself.status_code == 400 and itself.json()["error"]["message"] == versions.MSG_ITSELF


def test_the_api_gives_deltas_to_those_who_see_results(cast):
    v1, v2 = deltas_setup(cast)
    answer = api(cast.admin).get(f"{V1}/submissions/{v2.pk}/version-deltas/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["supersedes"] == v1.pk and body["supersedes_version"] == v1.model_version and not body["then_hidden"]
    assert {d["change"] for d in body["domains"]} == {"0.150"}
    newcomer = api(cast.unassigned_reviewer).get(f"{V1}/submissions/{v2.pk}/version-deltas/").json()
    assert newcomer["then_hidden"] and all(d["then"] is None for d in newcomer["domains"])
    assert api(cast.developer).get(f"{V1}/submissions/{v2.pk}/version-deltas/").status_code == 403
    assert api(cast.other_developer).get(f"{V1}/submissions/{v2.pk}/version-deltas/").status_code == 404
    # Not a new version: no domains to compare.
    plain = api(cast.admin).get(f"{V1}/submissions/{v1.pk}/version-deltas/").json()
    assert plain == {
        "supersedes": None,
        "supersedes_version": None,
        "then_hidden": False,
        "hidden_benchmarks": 0,
        "domains": [],
    }


def test_the_api_resolves_a_carried_finding_and_accepts_with_a_window(cast):
    v1 = cast.submission(State.EVALUATION, model_name="Orion")
    record_all_results(v1, cast.reviewer)
    moderate_finding(v1, cast.reviewer)
    move(v1, "clear", cast.lead)
    v2 = new_version(cast, v1)
    move(v2, "submit", cast.developer)
    accepted = api(cast.admin).post(
        f"{V1}/submissions/{v2.pk}/transitions/accept/",
        {"checklist": dict.fromkeys(services.INTAKE_CHECKLIST, True), "window_days": 7},
        format="json",
    )
    assert accepted.status_code == 200, accepted.content
    assert ReviewClock.objects.get(submission=v2).window == dt.timedelta(days=7)
    review_services.assignment_create(submission=v2, reviewer=cast.lead, role="lead", actor=cast.admin)
    carried = v2.findings.get()
    listed = api(cast.admin).get(f"{V1}/submissions/{v2.pk}/findings/").json()
    assert listed[0]["carried_from"] == carried.carried_from_id and listed[0]["carried_from_submission"] == v1.pk
    url = f"{V1}/submissions/{v2.pk}/findings/{carried.pk}/resolve/"
    assert api(cast.admin).post(url, {"reason": "Fixed."}, format="json").status_code == 403
    assert api(cast.lead).post(url, {}, format="json").status_code == 400
    resolved = api(cast.lead).post(url, {"reason": "Fixed in 2.0."}, format="json")
    assert resolved.status_code == 200 and resolved.json()["resolution"] == "Fixed in 2.0."
    assert api(cast.lead).post(url, {"reason": "Again."}, format="json").status_code == 403  # nothing left to resolve


@pytest.mark.empty_catalog
def test_the_seed_shows_a_superseding_version_with_deltas(settings):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("load_seed")
    v2 = ModelSubmission.objects.get(model_name="Orion-Sim", model_version="4.6")
    assert v2.supersedes.model_version == "4.5" and v2.state == State.EVALUATION
    carol = get_user_model().objects.get(username="lead.carol")
    deltas = selectors.version_deltas(v2, carol)
    assert [r["change"] for r in deltas["rows"] if r["change"] is not None]
    assert v2.findings.filter(carried_from__isnull=False).count() == 2
    assert v2.findings.filter(carried_from__isnull=False, resolved_at__isnull=False).count() == 1
    assert ReviewClock.objects.get(submission=v2).window == dt.timedelta(days=14)
    assert carried_findings_resolved(v2)  # the last carried finding still holds the clearance back
