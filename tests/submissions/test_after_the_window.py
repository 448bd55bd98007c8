"""After the window: late determinations, advisories on released models, government orders
(removal, hold before release, lifting) and where open weights were published.

Through the services and through the API; the pages are checked for what they tell people."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Clearance
from caisi_portal.errors import NotPermitted, TransitionRefused, ValidationFailed
from partners.messages import email_for
from partners.models import Delivery, Event, PartnerEventType, TrustedPartner
from reviews import services as review_services
from reviews.models import Determination
from submissions import services
from submissions.models import AccessRemovalOrder, ReviewClock, State, WeightsPublication
from submissions.states import OPEN_WEIGHTS_NOTE
from tests.api.test_api import V1, assert_error, client_for
from tests.factories import move, order_data, record_all_results, serious_finding

pytestmark = pytest.mark.django_db

HASH = "0123456789abcdef" * 4


@pytest.fixture
def partner(cast):
    return TrustedPartner.objects.create(
        organization=cast.partner_org,
        webhook_url="https://partner.example/hook",
        emails="desk@partner.example",
        event_types=list(PartnerEventType.values),
    )


def partner_email(submission, event_type) -> str:
    event = Event.objects.filter(submission=submission, type=event_type).latest("occurred_at")
    delivery = event.deliveries.filter(channel=Delivery.Channel.EMAIL, partner__isnull=False).first()
    assert delivery is not None, f"no partner email for {event_type}"
    return email_for(delivery)[1]


def developer_told(submission, event_type, cast) -> bool:
    event = Event.objects.filter(submission=submission, type=event_type).latest("occurred_at")
    return event.deliveries.filter(recipient=cast.developer).exists()


# --- late determinations ------------------------------------------------------------------------


def test_a_late_clearance_after_the_window_is_recorded_and_announced_as_late(cast, partner):
    s = cast.submission(State.WINDOW_ELAPSED)
    record_all_results(s, cast.reviewer)  # results may still arrive after the window
    move(s, "clear", cast.lead)
    s.refresh_from_db()
    assert s.state == State.CLEARED
    determination = Determination.objects.get(submission=s)
    assert determination.issued_after_window and determination.issued_at
    assert ReviewClock.objects.get(submission=s).status == "elapsed"  # the clock keeps how it ended
    event = Event.objects.get(submission=s, type=PartnerEventType.CLEARED)
    assert event.payload["issued_after_window"] is True
    assert "after the review window" in partner_email(s, PartnerEventType.CLEARED)
    assert "after the review window" in services.transition_done_message(s, "clear")


def test_a_timely_clearance_says_nothing_of_the_window(cast, partner):
    s = cast.submission(State.CLEARED)
    assert not Determination.objects.get(submission=s).issued_after_window
    assert "issued_after_window" not in Event.objects.get(submission=s, type=PartnerEventType.CLEARED).payload
    assert "after the review window" not in services.transition_done_message(s, "clear")


def test_a_late_flag_takes_the_same_two_people(cast, partner):
    s = cast.submission(State.WINDOW_ELAPSED)
    serious_finding(s, cast.reviewer)
    with pytest.raises(TransitionRefused, match="Propose the flag"):
        move(s, "flag", cast.lead)
    proposal = review_services.determination_propose_flag(
        submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged late."
    )
    with pytest.raises(TransitionRefused, match="second reviewer"):
        move(s, "flag", cast.lead)
    review_services.determination_concur(determination=proposal, actor=cast.reviewer)
    move(s, "flag", cast.lead)
    s.refresh_from_db()
    assert s.state == State.FLAGGED and Determination.objects.get(submission=s).issued_after_window
    assert "after the review window" in partner_email(s, PartnerEventType.FLAGGED)


def test_a_late_determination_through_the_api(cast):
    s = cast.submission(State.WINDOW_ELAPSED)
    record_all_results(s, cast.reviewer)
    body = {"expected_state": "window_elapsed", "rationale": "Fine.", "partner_summary": "Cleared, late."}
    response = client_for(cast.lead).post(f"{V1}/submissions/{s.pk}/transitions/clear/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "cleared"


# --- advisories ---------------------------------------------------------------------------------


def test_an_advisory_rests_on_a_late_finding_and_a_second_reviewer_issues_it(cast, partner):
    s = cast.submission(State.RELEASED)
    finding = serious_finding(s, cast.reviewer)  # a finding after release
    advisory = review_services.advisory_propose(
        submission=s, actor=cast.lead, text="Patch the exploit path.", findings=[finding]
    )
    assert advisory.issued_at is None and list(advisory.findings.all()) == [finding]
    assert not Event.objects.filter(submission=s, type=PartnerEventType.ADVISORY).exists()
    with pytest.raises(NotPermitted, match="second reviewer"):
        review_services.advisory_concur(advisory=advisory, actor=cast.lead)
    review_services.advisory_concur(
        advisory=advisory, actor=cast.reviewer, seen_digest=review_services.advisory_digest(advisory)
    )
    assert advisory.issued_at is not None and advisory.concurred_by == cast.reviewer
    assert "Patch the exploit path." in partner_email(s, PartnerEventType.ADVISORY)
    assert developer_told(s, PartnerEventType.ADVISORY, cast)
    payload = Event.objects.get(submission=s, type=PartnerEventType.ADVISORY).payload
    assert "Exploit" not in str(payload)  # the finding itself stays with the office


def test_an_advisory_needs_text_findings_and_a_released_model(cast):
    s = cast.submission(State.RELEASED)
    finding = serious_finding(s, cast.reviewer)
    with pytest.raises(ValidationFailed):
        review_services.advisory_propose(submission=s, actor=cast.lead, text="  ", findings=[finding])
    with pytest.raises(ValidationFailed, match="at least one"):
        review_services.advisory_propose(submission=s, actor=cast.lead, text="Patch.", findings=[])
    with pytest.raises(ValidationFailed, match="each finding once"):
        review_services.advisory_propose(
            submission=s, actor=cast.lead, text="Patch.", findings=[finding.pk, finding.pk]
        )
    other = cast.submission(State.RELEASED)
    with pytest.raises(ValidationFailed):  # another submission's finding is not this one's
        review_services.advisory_propose(submission=other, actor=cast.lead, text="Patch.", findings=[finding])
    with pytest.raises(NotPermitted):
        review_services.advisory_propose(submission=s, actor=cast.reviewer, text="Patch.", findings=[finding])
    cleared = cast.submission(State.CLEARED)
    with pytest.raises(NotPermitted):
        review_services.advisory_propose(submission=cleared, actor=cast.lead, text="Patch.", findings=[finding])


def test_concurring_needs_clearance_for_every_finding(cast):
    s = cast.submission(State.RELEASED)
    finding = serious_finding(s, cast.reviewer, classification=Clearance.SECRET)
    advisory = review_services.advisory_propose(submission=s, actor=cast.lead, text="Patch.", findings=[finding])
    with pytest.raises(NotPermitted, match="above your clearance"):
        review_services.advisory_concur(advisory=advisory, actor=cast.low_reviewer)


def test_advisories_through_the_api(cast):
    s = cast.submission(State.RELEASED)
    finding = serious_finding(s, cast.reviewer)
    url = f"{V1}/submissions/{s.pk}/advisories/"
    response = client_for(cast.lead).post(url, {"text": "Patch.", "findings": [finding.pk]}, format="json")
    assert response.status_code == 201, response.content
    proposed = response.json()
    assert proposed["issued_at"] is None and proposed["findings"] == [finding.pk]
    assert client_for(cast.developer).get(url).json() == []  # a proposal is the office's business
    wrong = client_for(cast.reviewer).post(f"{url}{proposed['id']}/concur/", {"advisory_digest": "0" * 64})
    assert_error(wrong, 400)
    done = client_for(cast.reviewer).post(f"{url}{proposed['id']}/concur/", {"advisory_digest": proposed["digest"]})
    assert done.status_code == 200 and done.json()["issued_at"]
    seen = client_for(cast.developer).get(url).json()
    assert [a["text"] for a in seen] == ["Patch."] and seen[0]["findings"] == []


# --- orders: removal, hold, lifting -------------------------------------------------------------


def test_an_order_on_a_released_model_removes_access_and_lifting_returns_it(cast, partner):
    s = cast.submission(State.RELEASED)
    order = services.access_order_record(submission=s, actor=cast.admin, data=order_data())
    s.refresh_from_db()
    assert s.state == State.ACCESS_REMOVED and order.kind == AccessRemovalOrder.Kind.REMOVAL
    assert order.previous_state == State.RELEASED and order.recorded_by == cast.admin
    body = partner_email(s, PartnerEventType.ACCESS_REMOVED)
    assert "EO-2026-17" in body and "Department of Commerce" in body and "All access" in body
    assert developer_told(s, PartnerEventType.ACCESS_REMOVED, cast)
    services.access_order_lift(order=order, actor=cast.admin, reason="Withdrawn by its issuer.")
    s.refresh_from_db()
    order.refresh_from_db()
    assert s.state == State.RELEASED and order.lifted_at and order.lifted_by == cast.admin
    assert order.lift_reason == "Withdrawn by its issuer."
    assert "Lifted:" in partner_email(s, PartnerEventType.ACCESS_REINSTATED)
    with pytest.raises(TransitionRefused, match="lifted already"):
        services.access_order_lift(order=order, actor=cast.admin, reason="Again.")


def test_a_hold_before_release_blocks_record_release_until_lifted(cast, partner):
    s = cast.submission(State.CLEARED)
    order = services.access_order_record(submission=s, actor=cast.admin, data=order_data(reference="EO-9"))
    s.refresh_from_db()
    assert s.state == State.CLEARED and order.kind == AccessRemovalOrder.Kind.HOLD
    assert "EO-9" in partner_email(s, PartnerEventType.ACCESS_HOLD)
    with pytest.raises(TransitionRefused, match=r"EO-9.*holds the release"):
        move(s, "record_release", cast.developer)
    blocked = {name: reasons for name, _label, reasons in services.blocked_transitions(s, cast.developer)}
    assert "holds the release" in " ".join(blocked["record_release"])
    with pytest.raises(TransitionRefused, match="in force"):
        services.access_order_record(submission=s, actor=cast.admin, data=order_data(reference="EO-10"))
    # The developer's next step is not "record the release" while the order holds it.
    from submissions.worklist import steps_for

    (step,) = steps_for([s])
    assert "holds the release" in step.action and step.owner.startswith("The office")
    services.access_order_lift(order=order, actor=cast.admin, reason="Lifted by the department.")
    assert partner_email(s, PartnerEventType.ACCESS_REINSTATED).startswith("Hold lifted, the release may now be")
    (step,) = steps_for([s])
    assert "record the release when it happens" in step.action
    move(s, "record_release", cast.developer)
    s.refresh_from_db()
    assert s.state == State.RELEASED


@pytest.mark.parametrize("state", [State.CLEARED, State.WINDOW_ELAPSED])
def test_an_order_on_a_deployed_model_not_recorded_as_released_removes_access(cast, state):
    s = cast.submission(state)
    order = services.access_order_record(submission=s, actor=cast.admin, data=order_data(), deployed=True)
    s.refresh_from_db()
    assert s.state == State.ACCESS_REMOVED and order.previous_state == state
    services.access_order_lift(order=order, actor=cast.admin, reason="Lifted.")
    s.refresh_from_db()
    assert s.state == state  # back where the order found it


def test_a_flagged_model_is_held(cast):
    s = cast.submission(State.FLAGGED)
    order = services.access_order_record(submission=s, actor=cast.admin, data=order_data())
    assert order.kind == AccessRemovalOrder.Kind.HOLD


def test_orders_are_for_administrators_and_need_their_facts(cast):
    s = cast.submission(State.RELEASED)
    for who in (cast.developer, cast.lead, cast.partner):
        with pytest.raises(NotPermitted):
            services.access_order_record(submission=s, actor=who, data=order_data())
    with pytest.raises(ValidationFailed, match=r"named deployments|Name the deployments"):
        services.access_order_record(
            submission=s, actor=cast.admin, data=order_data(scope="named_deployments", scope_description="")
        )
    with pytest.raises(ValidationFailed):
        services.access_order_record(submission=s, actor=cast.admin, data=order_data(scope="everything"))
    with pytest.raises(ValidationFailed):
        services.access_order_record(submission=s, actor=cast.admin, data=order_data(reference="A\x00B"))
    import datetime as dt

    with pytest.raises(ValidationFailed, match="before this model was filed"):
        services.access_order_record(submission=s, actor=cast.admin, data=order_data(issued_on=dt.date(1900, 1, 1)))
    with pytest.raises(ValidationFailed, match="in the future"):
        services.access_order_record(
            submission=s, actor=cast.admin, data=order_data(issued_on=s.created_at.date() + dt.timedelta(days=400))
        )
    assert not AccessRemovalOrder.objects.filter(submission=s).exists()
    evaluation = cast.submission(State.EVALUATION)
    with pytest.raises(TransitionRefused, match=r"cannot|can be recorded"):
        services.access_order_record(submission=evaluation, actor=cast.admin, data=order_data())


def test_open_weights_notices_say_weights_cannot_be_recalled_and_name_the_files(cast, partner):
    s = cast.submission(State.RELEASED, release_channel="open_weights")
    services.weights_publication_record(
        submission=s, actor=cast.developer, location="hf://lab-alpha/open-model", sha256=HASH
    )
    order = services.access_order_record(submission=s, actor=cast.admin, data=order_data())
    assert order.open_weights and order.open_weights_note == OPEN_WEIGHTS_NOTE
    for event_type in (PartnerEventType.ACCESS_REMOVED,):
        body = partner_email(s, event_type)
        assert OPEN_WEIGHTS_NOTE in body and "hf://lab-alpha/open-model" in body and HASH in body
    services.access_order_lift(order=order, actor=cast.admin, reason="Lifted.")
    assert OPEN_WEIGHTS_NOTE in partner_email(s, PartnerEventType.ACCESS_REINSTATED)
    payload = Event.objects.get(submission=s, type=PartnerEventType.ACCESS_REMOVED).payload
    assert payload["weights_publications"] == [{"location": "hf://lab-alpha/open-model", "sha256": HASH}]
    hold = cast.submission(State.CLEARED, release_channel="open_weights")
    services.access_order_record(submission=hold, actor=cast.admin, data=order_data())
    assert OPEN_WEIGHTS_NOTE in partner_email(hold, PartnerEventType.ACCESS_HOLD)


def test_the_release_gate_blocks_a_hold_and_an_order_and_permits_once_lifted(cast):
    gate = f"{V1}/release-gate/"
    s = cast.submission(State.CLEARED)
    ask = {"model": s.model_name, "version": s.model_version, "channel": s.release_channel}
    assert client_for(cast.developer).get(gate, ask).json()["answer"] == "permitted"
    hold = services.access_order_record(submission=s, actor=cast.admin, data=order_data(reference="EO-H"))
    body = client_for(cast.developer).get(gate, ask).json()
    assert body["answer"] == "blocked" and "EO-H" in body["reason"] and "holds the release" in body["reason"]
    services.access_order_lift(order=hold, actor=cast.admin, reason="Lifted.")
    assert client_for(cast.developer).get(gate, ask).json()["answer"] == "permitted"
    move(s, "record_release", cast.developer)
    order = services.access_order_record(submission=s, actor=cast.admin, data=order_data(reference="EO-R"))
    body = client_for(cast.developer).get(gate, ask).json()
    assert body["answer"] == "blocked" and "EO-R" in body["reason"]
    services.access_order_lift(order=order, actor=cast.admin, reason="Lifted.")
    assert client_for(cast.developer).get(gate, ask).json()["answer"] == "permitted"


def test_orders_through_the_api(cast):
    s = cast.submission(State.RELEASED)
    url = f"{V1}/submissions/{s.pk}/access-orders/"
    fields = {**order_data(), "issued_on": order_data()["issued_on"].isoformat()}
    assert_error(client_for(cast.developer).post(url, fields, format="json"), 403)
    bad = client_for(cast.admin).post(
        url, {**fields, "scope": "named_deployments", "scope_description": ""}, format="json"
    )
    assert "scope_description" in assert_error(bad, 400)["details"]
    created = client_for(cast.admin).post(url, {**fields, "expected_state": "released"}, format="json")
    assert created.status_code == 201, created.content
    order = created.json()
    assert order["kind"] == "removal" and order["in_force"] and order["recorded_by"] == str(cast.admin)
    assert_error(client_for(cast.admin).post(url, fields, format="json"), 409)  # one in force at a time
    listed = client_for(cast.partner).get(url).json()
    assert [o["reference"] for o in listed] == ["EO-2026-17"] and listed[0]["recorded_by"] == "Review office"
    lift = f"{url}{order['id']}/lift/"
    assert_error(client_for(cast.admin).post(lift, {"reason": ""}, format="json"), 400)
    lifted = client_for(cast.admin).post(lift, {"reason": "Withdrawn."}, format="json")
    assert lifted.status_code == 200 and lifted.json()["lifted_at"]
    s.refresh_from_db()
    assert s.state == State.RELEASED


def test_the_remove_access_transition_takes_the_order_fields_through_the_api(cast):
    s = cast.submission(State.RELEASED)
    fields = {**order_data(), "issued_on": order_data()["issued_on"].isoformat()}
    url = f"{V1}/submissions/{s.pk}/transitions/remove_access/"
    refused = client_for(cast.admin).post(url, {"order": "free text"}, format="json")
    assert "order" in assert_error(refused, 400)["details"]  # the free text is no order now: refused by name
    assert client_for(cast.admin).post(url, fields, format="json").status_code == 200
    assert s.access_orders.get().reference == "EO-2026-17"


# --- where open weights were published -----------------------------------------------------------


@pytest.mark.parametrize(
    "location, sha256, field",
    [
        ("ftp://mirror.example/weights.bin", HASH, "location"),
        ("javascript:alert(1)", HASH, "location"),
        ("https://user:secret@host.example/w.bin", HASH, "location"),
        ("https://host.example/w.bin\r\nX-Injected: 1", HASH, "location"),
        ("hf://../etc/passwd", HASH, "location"),
        ("hf://lab/m/../../other/x", HASH, "location"),
        ("https://cdn.example/w.bin?X-Amz-Signature=abc123", HASH, "location"),
        ("https://cdn.example/w.bin#token=abc", HASH, "location"),
        ("http://cdn.example/w.bin", HASH, "location"),
        ("https://10.0.0.5/w.bin", HASH, "location"),
        ("https://127.0.0.1/w.bin", HASH, "location"),
        ("https://[::1]/w.bin", HASH, "location"),
        ("https://localhost/w.bin", HASH, "location"),
        ("https://weights.corp.internal/w.bin", HASH, "location"),
        ("hf://a/b@../x", HASH, "location"),
        ("https://hugginɡface.co/x/y", HASH, "location"),
        ("https://[64:ff9b::a00:1]/w.bin", HASH, "location"),
        ("https://[2002:a00:1::]/w.bin", HASH, "location"),
        ("https://example.com:99999/w.bin", HASH, "location"),
        ("just some words", HASH, "location"),
        ("https://host.example/" + "a" * 600, HASH, "location"),
        ("https://host.example/w.bin", "abc", "sha256"),
        ("https://host.example/w.bin", "g" * 64, "sha256"),
        ("https://host.example/w.bin", HASH + "00", "sha256"),
    ],
)
def test_hostile_publications_are_refused(cast, location, sha256, field):
    s = cast.submission(State.RELEASED, release_channel="open_weights")
    with pytest.raises(ValidationFailed) as refused:
        services.weights_publication_record(submission=s, actor=cast.developer, location=location, sha256=sha256)
    assert field in refused.value.details
    assert not WeightsPublication.objects.exists()


def test_publications_are_kept_once_and_only_for_the_labs_open_weights(cast):
    s = cast.submission(State.RELEASED, release_channel="open_weights")
    one = services.weights_publication_record(
        submission=s, actor=cast.developer, location="https://huggingface.co/lab/m", sha256=HASH.upper()
    )
    assert one.sha256 == HASH  # kept in one spelling
    with pytest.raises(ValidationFailed, match="already recorded"):
        services.weights_publication_record(
            submission=s, actor=cast.developer, location="https://huggingface.co/lab/m", sha256=HASH
        )
    services.weights_publication_record(  # a mirror of the same file is another location
        submission=s, actor=cast.developer, location="hf://lab/m@main/model.safetensors", sha256=HASH
    )
    for who in (cast.other_developer, cast.admin, cast.partner):
        with pytest.raises(NotPermitted):
            services.weights_publication_record(submission=s, actor=who, location="hf://lab/x", sha256=HASH)
    api_model = cast.submission(State.RELEASED)
    with pytest.raises(NotPermitted):
        services.weights_publication_record(
            submission=api_model, actor=cast.developer, location="hf://a/b", sha256=HASH
        )


def test_publications_through_the_api(cast):
    s = cast.submission(State.RELEASED, release_channel="open_weights")
    url = f"{V1}/submissions/{s.pk}/weights-publications/"
    bad = client_for(cast.developer).post(url, {"location": "file:///etc/passwd", "sha256": HASH}, format="json")
    assert "location" in assert_error(bad, 400)["details"]
    made = client_for(cast.developer).post(url, {"location": "hf://lab/m", "sha256": HASH}, format="json")
    assert made.status_code == 201, made.content
    again = client_for(cast.developer).post(url, {"location": "hf://lab/m", "sha256": HASH}, format="json")
    assert_error(again, 400)
    assert client_for(cast.partner).get(url).json()[0]["sha256"] == HASH


# --- pages ---------------------------------------------------------------------------------------


def test_the_order_page_says_what_will_happen_and_to_whom(cast, client, partner):
    s = cast.submission(State.RELEASED)
    client.force_login(cast.admin)
    page = client.get(reverse("submissions:order_record", args=[s.pk])).content.decode()
    assert "Lab Alpha and 1 subscribed partner are told" in page and "marked access removed" in page
    assert "quoted in every notice" in page and "if the review is later published on the public register" in page
    s.published_at = s.created_at
    s.save(update_fields=["published_at"])
    page = client.get(reverse("submissions:order_record", args=[s.pk])).content.decode()
    assert "the review is on the public register, so the order appears there too" in page
    cleared = cast.submission(State.CLEARED)
    page = client.get(reverse("submissions:order_record", args=[cleared.pk])).content.decode()
    assert "as a hold on the release" in page and "deployed already" in page
    fields = {**order_data(), "issued_on": order_data()["issued_on"].isoformat(), "expected_state": "cleared"}
    response = client.post(reverse("submissions:order_record", args=[cleared.pk]), fields)
    assert response.status_code == 302
    detail = client.get(cleared.get_absolute_url()).content.decode()
    assert "In force: Release held, order EO-2026-17" in detail and "Lift the order" in detail
    client.force_login(cast.developer)
    detail = client.get(cleared.get_absolute_url()).content.decode()
    assert "holds the release" in detail


def test_the_submission_page_shows_lifted_orders_and_publications(cast, client):
    s = cast.submission(State.RELEASED, release_channel="open_weights")
    services.weights_publication_record(submission=s, actor=cast.developer, location="hf://lab/m", sha256=HASH)
    order = services.access_order_record(submission=s, actor=cast.admin, data=order_data())
    client.force_login(cast.admin)
    lift_page = client.get(reverse("submissions:order_lift", args=[s.pk, order.pk])).content.decode()
    assert "returns to released" in lift_page
    assert client.post(reverse("submissions:order_lift", args=[s.pk, order.pk]), {"reason": "Over."}).status_code == 302
    client.force_login(cast.partner)
    page = client.get(s.get_absolute_url()).content.decode()
    assert "Lifted: Access removed, order EO-2026-17" in page and HASH in page and "cannot be recalled" in page


def test_the_submission_page_does_not_grow_with_publications_and_orders(cast, client, django_assert_max_num_queries):
    s = cast.submission(State.RELEASED, release_channel="open_weights")
    client.force_login(cast.developer)

    def record(n, start):
        for i in range(start, start + n):
            s.refresh_from_db()
            services.weights_publication_record(
                submission=s, actor=cast.developer, location=f"hf://lab/m/shard-{i}", sha256=f"{i:064x}"
            )
            order = services.access_order_record(submission=s, actor=cast.admin, data=order_data(reference=f"O-{i}"))
            services.access_order_lift(order=order, actor=cast.admin, reason="Lifted.")

    record(2, 0)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get(s.get_absolute_url()).status_code == 200
    record(20, 2)
    with django_assert_max_num_queries(len(few)):
        assert client.get(s.get_absolute_url()).status_code == 200


def test_the_public_register_shows_an_order_and_the_published_weights(cast, client):
    s = cast.submission(State.RELEASED, release_channel="open_weights")
    services.weights_publication_record(submission=s, actor=cast.developer, location="hf://lab/m", sha256=HASH)
    services.submission_set_published(submission=s, actor=cast.admin, published=True)
    assert HASH.encode() not in client.get(reverse("register:page")).content  # no order yet
    services.access_order_record(submission=s, actor=cast.admin, data=order_data())
    page = client.get(reverse("register:page")).content.decode()
    assert "EO-2026-17" in page and HASH in page and OPEN_WEIGHTS_NOTE in page
    assert "Remove access to the model" not in page  # the description stays with the office and partners
    row = client.get(reverse("register:json")).json()["reviews"][0]
    assert row["orders"][0]["reference"] == "EO-2026-17" and row["weights_publications"][0]["sha256"] == HASH


# --- a mistaken publication record is withdrawn ---------------------------------------------------


def test_a_mistaken_publication_record_is_withdrawn_and_leaves_the_register_and_notices(cast, client, partner):
    s = cast.submission(State.RELEASED, release_channel="open_weights")
    wrong = services.weights_publication_record(submission=s, actor=cast.developer, location="hf://lab/m", sha256=HASH)
    services.submission_set_published(submission=s, actor=cast.admin, published=True)
    services.access_order_record(submission=s, actor=cast.admin, data=order_data())
    before = client.get(reverse("register:json"))
    assert HASH in before.content.decode()

    # An order is in force and its notices named the file: the office withdraws it, not the lab.
    for who in (cast.other_developer, cast.partner, cast.lead):
        with pytest.raises(NotPermitted):
            services.weights_publication_withdraw(publication=wrong, actor=who, reason="Wrong.")
    with pytest.raises(NotPermitted, match="ask the office"):
        services.weights_publication_withdraw(publication=wrong, actor=cast.developer, reason="Wrong.")
    client.force_login(cast.developer)
    assert "ask the office to withdraw the record" in client.get(s.get_absolute_url()).content.decode()
    for reason in ("", "   ", "A\x00B"):
        with pytest.raises(ValidationFailed):
            services.weights_publication_withdraw(publication=wrong, actor=cast.admin, reason=reason)
    withdrawn = services.weights_publication_withdraw(
        publication=wrong, actor=cast.admin, reason="The hash was of another file."
    )
    assert withdrawn.withdrawn_at is not None and withdrawn.withdrawn_by == cast.admin
    with pytest.raises(ValidationFailed, match="withdrawn already"):
        services.weights_publication_withdraw(publication=wrong, actor=cast.admin, reason="Again.")

    # The register's JSON changed (a new ETag) and no longer lists it; later notices leave it out.
    after = client.get(reverse("register:json"), headers={"if-none-match": before["ETag"]})
    assert after.status_code == 200 and HASH not in after.content.decode()
    services.access_order_lift(order=s.access_orders.get(), actor=cast.admin, reason="Lifted.")
    lifted = Event.objects.get(submission=s, type=PartnerEventType.ACCESS_REINSTATED)
    assert lifted.payload.get("weights_publications", []) == []
    # The history keeps what was said and why it no longer stands.
    entry = s.audit_entries.get(action="weights_publication_withdrawn")
    assert "hf://lab/m" in entry.comment and "another file" in entry.comment
    # The same location and file can be recorded again, correctly this time.
    services.weights_publication_record(submission=s, actor=cast.developer, location="hf://lab/m", sha256=HASH)


def test_withdrawing_a_publication_record_through_the_page_and_the_api(cast, client):
    s = cast.submission(State.RELEASED, release_channel="open_weights")
    one = services.weights_publication_record(submission=s, actor=cast.developer, location="hf://lab/m", sha256=HASH)
    two = services.weights_publication_record(submission=s, actor=cast.developer, location="hf://lab/n", sha256=HASH)
    client.force_login(cast.developer)
    detail = client.get(s.get_absolute_url()).content.decode()
    url = reverse("submissions:publication_withdraw", args=[s.pk, one.pk])
    assert url in detail
    page = client.get(url).content.decode()
    assert "leaves this page's list, the public register's row" in page and "cannot be called back" in page
    assert client.post(url, {"reason": ""}).status_code == 400
    assert client.post(url, {"reason": "Mistyped location."}).status_code == 302
    detail = client.get(s.get_absolute_url()).content.decode()
    assert "1 withdrawn record" in detail and "Mistyped location." in detail
    client.force_login(cast.partner)
    assert client.get(url).status_code == 403
    client.force_login(cast.admin)  # no order in force: the lab corrects its own records
    assert client.get(reverse("submissions:publication_withdraw", args=[s.pk, two.pk])).status_code == 403

    api = f"{V1}/submissions/{s.pk}/weights-publications/{two.pk}/withdraw/"
    assert_error(client_for(cast.partner).post(api, {"reason": "No."}, format="json"), 403)
    assert_error(client_for(cast.developer).post(api, {}, format="json"), 400)
    done = client_for(cast.developer).post(api, {"reason": "Wrong mirror."}, format="json")
    assert done.status_code == 200 and done.json()["withdrawn_reason"] == "Wrong mirror."
    listed = client_for(cast.developer).get(f"{V1}/submissions/{s.pk}/weights-publications/").json()
    assert all(p["withdrawn_at"] for p in listed)
    other = cast.submission(State.RELEASED, release_channel="open_weights")
    elsewhere = f"{V1}/submissions/{other.pk}/weights-publications/{two.pk}/withdraw/"
    assert_error(client_for(cast.developer).post(elsewhere, {"reason": "x"}, format="json"), 404)


def test_a_typed_day_is_the_persons_own_today_wherever_they_are(cast):
    """At 23:30 UTC it is already tomorrow in Tokyo, and at 00:30 UTC still yesterday in Los
    Angeles: either person's today is accepted for an order or a release, a day beyond is not."""
    import datetime as dt

    import time_machine

    late = dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)
    with time_machine.travel(late, tick=False):
        s = cast.submission(State.RELEASED)
        tokyo_today = dt.date(2026, 12, 2)
        services.access_order_record(submission=s, actor=cast.admin, data=order_data(issued_on=tokyo_today))
        with pytest.raises(ValidationFailed, match="in the future"):
            services.access_order_record(
                submission=cast.submission(State.RELEASED),
                actor=cast.admin,
                data=order_data(issued_on=dt.date(2026, 12, 3)),
            )
    early = dt.datetime(2026, 12, 2, 0, 30, tzinfo=dt.UTC)
    with time_machine.travel(early, tick=False):
        filed = cast.submission(State.CLEARED)
        la_today = dt.date(2026, 12, 1)
        services.access_order_record(submission=filed, actor=cast.admin, data=order_data(issued_on=la_today))
        released = cast.submission(State.CLEARED, release_channel="api")
        services.submission_transition(
            submission=released, name="record_release", actor=cast.developer, data={"released_at": la_today}
        )
        assert released.state == State.RELEASED
        with pytest.raises(ValidationFailed, match="before this model was filed"):
            services.access_order_record(
                submission=cast.submission(State.RELEASED),
                actor=cast.admin,
                data=order_data(issued_on=dt.date(2026, 11, 30)),
            )
