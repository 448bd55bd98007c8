"""Digests: one combined message per reader at their own hour, quiet hours, urgent items."""

import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import DigestCadence, NotificationPreference, Weekday
from accounts.roles import Role
from partners import digests, services
from partners.models import Delivery, PartnerEventType, TrustedPartner
from submissions.models import Agreement, ReviewClock, State
from tests.factories import OrganizationFactory, UserFactory, move, record_all_results

pytestmark = pytest.mark.django_db

# Monday 12 January 2026, 09:30 UTC: 04:30 in New York, 10:30 in Berlin, 18:30 in Tokyo.
T0 = dt.datetime(2026, 1, 12, 9, 30, tzinfo=dt.UTC)
UTC = dt.UTC


@pytest.fixture(autouse=True)
def _no_broker(no_broker):
    return no_broker


def prefer(user, zone, **choices):
    user.time_zone = zone
    user.save(update_fields=["time_zone"])
    return NotificationPreference.objects.create(user=user, **choices)


def tell(submission, people, n=1, type="review.concurrence_requested"):
    for _ in range(n):
        services.event_record(submission=submission, type=type, recipients=people)


def mine(user):
    return Delivery.objects.filter(recipient=user, event__type="review.concurrence_requested")


def send(ids):
    """The outbox's own attempt at each digest (the email backend is Django's test outbox)."""
    return services.deliveries_attempt(ids)


def at(*args, zone="UTC"):
    import zoneinfo

    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone))


def test_each_person_gets_one_digest_at_their_own_local_hour(cast):
    """Seven events about two submissions reach each person as one email at 08:00 in their zone."""
    with time_machine.travel(T0, tick=False):
        first = cast.submission(State.EVALUATION, model_name="Atlas")
        second = cast.submission(State.EVALUATION, model_name="Borealis")
        prefer(cast.reviewer, "America/New_York", cadence=DigestCadence.DAILY, digest_hour=8)
        prefer(cast.lead, "Europe/Berlin", cadence=DigestCadence.DAILY, digest_hour=8)
        tell(first, [cast.reviewer, cast.lead], n=4)
        tell(second, [cast.reviewer, cast.lead], n=3)
        assert set(mine(cast.reviewer).values_list("status", flat=True)) == {"held"}
        assert digests.digests_send() == []
    mail.outbox.clear()
    # Berlin's 08:00 (07:00 UTC on the 13th) comes after New York's (13:00 UTC on the 12th).
    with time_machine.travel(at(2026, 1, 12, 7, 59, zone="America/New_York"), tick=False):
        assert digests.digests_send() == []
    with time_machine.travel(at(2026, 1, 12, 8, 0, zone="America/New_York"), tick=False):
        ids = digests.digests_send()
        assert len(ids) == 1
        assert send(ids) == {str(ids[0]): "delivered"}
    [message] = mail.outbox
    assert message.to == [cast.reviewer.email]
    assert message.subject == "Your CAISI digest: 7 notifications about 2 submissions"
    body = message.body
    assert body.index("Atlas") < body.index("Borealis")
    assert body.count("Concurrence asked for a proposed determination") == 7
    assert "12 Jan 2026, 04:30 EST" in body  # each item's time in the reader's zone
    assert set(mine(cast.reviewer).values_list("status", flat=True)) == {"digested"}
    assert set(mine(cast.reviewer).values_list("digest_id", flat=True)) == {ids[0]}
    assert set(mine(cast.lead).values_list("status", flat=True)) == {"held"}
    with time_machine.travel(at(2026, 1, 13, 8, 0, zone="Europe/Berlin"), tick=False):
        ids = digests.digests_send()
        send(ids)
    assert len(ids) == 1 and mail.outbox[-1].to == [cast.lead.email]
    assert "12 Jan 2026, 10:30 CET" in mail.outbox[-1].body
    assert len(mail.outbox) == 2


def test_weekly_digest_waits_for_its_day_and_hour(cast):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        prefer(cast.reviewer, "Asia/Tokyo", cadence=DigestCadence.WEEKLY, digest_weekday=Weekday.FRIDAY, digest_hour=17)
        tell(s, [cast.reviewer], n=3)
    # Friday 16 January, 17:00 in Tokyo is 08:00 UTC.
    assert {d.next_attempt_at for d in mine(cast.reviewer)} == {dt.datetime(2026, 1, 16, 8, 0, tzinfo=UTC)}
    with time_machine.travel(at(2026, 1, 15, 17, 0, zone="Asia/Tokyo"), tick=False):
        assert digests.digests_send() == []
    with time_machine.travel(at(2026, 1, 16, 17, 0, zone="Asia/Tokyo"), tick=False):
        assert len(digests.digests_send()) == 1


def test_digest_hour_is_local_on_both_sides_of_a_dst_change():
    new_york = digests.Schedule(cadence=DigestCadence.DAILY, hour=8, zone=digests.zone_of("America/New_York"))
    # Clocks go forward on Sunday 8 March 2026: 08:00 is 13:00 UTC before, 12:00 UTC after.
    assert new_york.next_digest_at(dt.datetime(2026, 3, 7, 14, tzinfo=UTC)) == dt.datetime(2026, 3, 8, 12, tzinfo=UTC)
    assert new_york.next_digest_at(dt.datetime(2026, 3, 6, 14, tzinfo=UTC)) == dt.datetime(2026, 3, 7, 13, tzinfo=UTC)
    # 02:00 does not exist on 8 March: the digest comes at 03:00 EDT, once.
    skipped = digests.Schedule(cadence=DigestCadence.DAILY, hour=2, zone=digests.zone_of("America/New_York"))
    assert skipped.next_digest_at(dt.datetime(2026, 3, 8, 5, tzinfo=UTC)) == dt.datetime(2026, 3, 8, 7, tzinfo=UTC)
    # 01:00 happens twice on 1 November: the first one only.
    repeated = digests.Schedule(cadence=DigestCadence.DAILY, hour=1, zone=digests.zone_of("America/New_York"))
    first = repeated.next_digest_at(dt.datetime(2026, 11, 1, 4, tzinfo=UTC))
    assert first == dt.datetime(2026, 11, 1, 5, tzinfo=UTC)
    assert repeated.next_digest_at(first) == dt.datetime(2026, 11, 2, 6, tzinfo=UTC)


def test_quiet_hours_hold_an_immediate_email_until_they_end(cast):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        prefer(cast.reviewer, "Europe/Berlin", quiet_start=22, quiet_end=7)
    with time_machine.travel(at(2026, 1, 12, 23, 15, zone="Europe/Berlin"), tick=False) as traveller:
        tell(s, [cast.reviewer])
        [delivery] = mine(cast.reviewer)
        assert delivery.status == "pending"
        assert delivery.next_attempt_at == at(2026, 1, 13, 7, 0, zone="Europe/Berlin")
        assert services.delivery_attempt(delivery.pk) == "not_due"
        assert delivery.pk not in services.deliveries_due(services.clock.now())
        traveller.move_to(at(2026, 1, 13, 7, 0, zone="Europe/Berlin"))
        assert delivery.pk in services.deliveries_due(services.clock.now())
        assert services.delivery_attempt(delivery.pk) == "delivered"
    # Outside quiet hours, at once.
    with time_machine.travel(at(2026, 1, 13, 12, 0, zone="Europe/Berlin"), tick=False):
        tell(s, [cast.reviewer])
        assert mine(cast.reviewer).order_by("-next_attempt_at")[0].next_attempt_at == services.clock.now()


def test_an_item_within_48_hours_of_a_deadline_bypasses_the_digest(cast, no_broker, django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False):
        calm = cast.submission(State.EVALUATION, model_name="Calm")
        close = cast.submission(State.EVALUATION, model_name="Close")
        ReviewClock.objects.filter(submission=close).update(deadline_at=T0 + dt.timedelta(hours=47))
        prefer(cast.reviewer, "America/New_York", cadence=DigestCadence.DAILY, digest_hour=8)
        no_broker.clear()
        with django_capture_on_commit_callbacks(execute=True):
            tell(calm, [cast.reviewer])
            tell(close, [cast.reviewer])
            # A deadline warning carries its deadline: two days left is urgent wherever it comes from.
            services.event_record(
                submission=calm,
                type="review.deadline_warning",
                extra={"deadline_at": (T0 + dt.timedelta(hours=40)).isoformat(), "days_left": 2},
                recipients=[cast.reviewer],
            )
    statuses = dict(
        Delivery.objects.filter(recipient=cast.reviewer, event__occurred_at=T0)
        .values_list("event__submission__model_name", "status")
        .filter(event__type="review.concurrence_requested")
    )
    assert statuses == {"Calm": "held", "Close": "pending"}
    warning = Delivery.objects.get(recipient=cast.reviewer, event__type="review.deadline_warning")
    assert warning.status == "pending" and warning.next_attempt_at == T0
    assert warning.pk in no_broker  # queued at once
    held = Delivery.objects.get(
        recipient=cast.reviewer, event__submission=calm, event__type="review.concurrence_requested"
    )
    assert held.pk not in no_broker


def test_overlapping_digest_runs_send_once(cast):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=12)
        tell(s, [cast.reviewer], n=5)
    with time_machine.travel(dt.datetime(2026, 1, 12, 12, 0, 30, tzinfo=UTC), tick=False):
        first = digests.digests_send()
        second = digests.digests_send()
    assert len(first) == 1 and second == []
    assert Delivery.objects.filter(recipient=cast.reviewer, event__isnull=True).count() == 1
    assert mine(cast.reviewer).filter(status="digested", digest_id=first[0]).count() == 5


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.postgres
def test_a_run_skips_items_another_run_holds_and_neither_loses_one(cast):
    """Two runs at once: the second skips the rows the first has locked; nothing is sent twice."""
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=12)
        tell(s, [cast.reviewer], n=4)
    due = dt.datetime(2026, 1, 12, 12, 1, tzinfo=UTC)
    locked, release = threading.Event(), threading.Event()
    results = {}

    def other_run():
        try:
            with transaction.atomic():
                # Another run, mid-way: it holds the due items' rows.
                list(Delivery.objects.select_for_update().filter(status="held"))
                locked.set()
                release.wait(10)
            results["other"] = digests.digests_send(due)
        finally:
            connection.close()

    worker = threading.Thread(target=other_run)
    worker.start()
    assert locked.wait(10)
    results["this"] = digests.digests_send(due)  # skips the locked rows instead of waiting
    release.set()
    worker.join(10)
    assert results["this"] == [] and len(results["other"]) == 1
    assert Delivery.objects.filter(event__isnull=True).count() == 1
    assert mine(cast.reviewer).filter(status="digested").count() == 4


def test_partner_emails_can_be_digested_while_webhooks_stay_immediate(cast):
    org = OrganizationFactory(name="Digest Partner", slug="digest-partner", kind="trusted_partner")
    partner = TrustedPartner.objects.create(
        organization=org,
        event_types=list(PartnerEventType.values),
        webhook_url="https://digest.example/hook",
        emails="a@digest.example\nb@digest.example",
        email_cadence=DigestCadence.DAILY,
        digest_hour=9,
        digest_time_zone="Asia/Tokyo",
    )
    with time_machine.travel(T0, tick=False):
        for name in ("One", "Two"):
            s = cast.submission(State.EVALUATION, model_name=name)
            record_all_results(s, cast.reviewer)
            move(s, "clear", cast.lead)
    sent = Delivery.objects.filter(partner=partner)
    assert set(sent.filter(channel="webhook").values_list("status", flat=True)) == {"pending"}
    assert sent.filter(channel="email", status="held").count() == 4
    mail.outbox.clear()
    with time_machine.travel(at(2026, 1, 13, 9, 0, zone="Asia/Tokyo"), tick=False):
        ids = digests.digests_send()
        send(ids)
    assert len(ids) == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["a@digest.example", "b@digest.example"]
    body = mail.outbox[0].body
    assert "One" in body and "Two" in body and body.count("Submission cleared") == 2
    assert "12 Jan 2026, 18:30 JST" in body
    assert "Open it in the portal" not in body  # partners have no portal link to the submission


@pytest.mark.parametrize("count", [3, 12])
def test_a_digest_run_costs_the_same_queries_for_3_or_12_people(cast, count, django_assert_num_queries):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        people = [
            UserFactory(username=f"reader{i}", role=Role.REVIEWER, organization=cast.office) for i in range(count)
        ]
        for i, person in enumerate(people):
            prefer(person, ("America/New_York", "Europe/Berlin", "UTC")[i % 3], cadence=DigestCadence.DAILY)
        tell(s, people, n=3)
    # The savepoint, the due items, their events, the readers' zones, the digests, the items
    # marked, the savepoint's release (a partner's zone would be one more, whatever the count).
    with (
        time_machine.travel(dt.datetime(2026, 1, 13, 14, tzinfo=UTC), tick=False),
        django_assert_num_queries(7),
    ):
        ids = digests.digests_send()
    assert len(ids) == count


def test_writing_events_costs_the_same_queries_whoever_chose_a_digest(cast):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        few = [UserFactory(username=f"few{i}", role=Role.REVIEWER, organization=cast.office) for i in range(2)]
        many = [UserFactory(username=f"many{i}", role=Role.REVIEWER, organization=cast.office) for i in range(10)]
        for person in few + many:
            prefer(person, "Europe/Berlin", cadence=DigestCadence.DAILY, quiet_start=22, quiet_end=7)
        with CaptureQueriesContext(connection) as small:
            tell(s, few)
        with CaptureQueriesContext(connection) as large:
            tell(s, many)
    assert len(small) == len(large)


def test_changing_the_preference_moves_held_items(cast):
    from accounts import services as account_services

    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=12)
        tell(s, [cast.reviewer], n=2)
        account_services.notification_preference_set(
            user=cast.reviewer, cadence=DigestCadence.DAILY, digest_hour=18, digest_weekday=0
        )
        assert {d.next_attempt_at for d in mine(cast.reviewer)} == {dt.datetime(2026, 1, 12, 18, tzinfo=UTC)}
        account_services.notification_preference_set(user=cast.reviewer, cadence=DigestCadence.IMMEDIATE)
        assert set(mine(cast.reviewer).values_list("status", flat=True)) == {"pending"}


def test_a_slower_digest_never_carries_a_held_item_past_its_deadline(cast):
    """Daily to weekly: an item held for tomorrow's digest, its deadline four days off, would
    reach the reader after the deadline in Sunday's digest: it is sent now instead."""
    from accounts import services as account_services

    with time_machine.travel(T0, tick=False):
        soon = cast.submission(State.EVALUATION, model_name="Soon")
        later = cast.submission(State.EVALUATION, model_name="Later")
        ReviewClock.objects.filter(submission=soon).update(deadline_at=T0 + dt.timedelta(days=4))
        ReviewClock.objects.filter(submission=later).update(deadline_at=T0 + dt.timedelta(days=20))
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=8)
        tell(soon, [cast.reviewer])
        tell(later, [cast.reviewer])
        assert set(mine(cast.reviewer).values_list("status", flat=True)) == {"held"}
        account_services.notification_preference_set(
            user=cast.reviewer, cadence=DigestCadence.WEEKLY, digest_hour=8, digest_weekday=Weekday.SUNDAY
        )
    statuses = dict(mine(cast.reviewer).values_list("event__submission__model_name", "status"))
    assert statuses == {"Soon": "pending", "Later": "held"}


def test_a_new_time_zone_moves_held_items_to_the_new_local_hour(cast):
    from accounts import services as account_services

    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=18)
        tell(s, [cast.reviewer])
        account_services.time_zone_set(user=cast.reviewer, name="Asia/Tokyo")
    # 18:00 in Tokyo is 09:00 UTC: already past on Monday at 09:30 UTC, so Tuesday's.
    assert {d.next_attempt_at for d in mine(cast.reviewer)} == {dt.datetime(2026, 1, 13, 9, tzinfo=UTC)}


def test_schedule_in_words():
    schedule = digests.Schedule(
        cadence=DigestCadence.DAILY, hour=8, zone=digests.zone_of("America/New_York"), quiet_start=22, quiet_end=7
    )
    assert digests.describe(schedule, "America/New_York")[:2] == [
        "Daily at 08:00 America/New_York",
        "Quiet 22:00–07:00 America/New_York",
    ]


def test_people_choose_their_digest_on_their_account_page(client, cast):
    cast.reviewer.time_zone = "America/New_York"
    cast.reviewer.save(update_fields=["time_zone"])
    client.force_login(cast.reviewer)
    choice = {"action": "notifications", "cadence": "daily", "digest_hour": "8", "digest_weekday": "0"}
    response = client.post(reverse("profile"), {**choice, "quiet_start": "22", "quiet_end": "7"}, follow=True)
    text = response.content.decode()
    assert "Daily at 08:00 America/New_York" in text and "Quiet 22:00–07:00 America/New_York" in text
    preference = NotificationPreference.objects.get(user=cast.reviewer)
    assert (preference.cadence, preference.digest_hour, preference.quiet_start, preference.quiet_end) == (
        "daily",
        8,
        22,
        7,
    )


def test_saving_a_digest_says_what_was_saved_in_one_sentence(client, cast):
    """The schedule's lines end in one period, not two ("sent at once.."), whichever line is last."""
    client.force_login(cast.reviewer)
    choice = {"action": "notifications", "cadence": "daily", "digest_hour": "8", "digest_weekday": "0"}
    response = client.post(reverse("profile"), choice, follow=True)
    (message,) = [str(m) for m in response.context["messages"]]
    assert message == (
        "Saved: Daily at 08:00 UTC. An item whose deadline would be less than 48 hours away by then is sent at once."
    )


@pytest.mark.parametrize(
    "hostile",
    [
        {"digest_hour": "24"},
        {"digest_hour": "-1"},
        {"digest_hour": "8.5"},
        {"digest_hour": "８"},
        {"cadence": "hourly"},
        {"digest_weekday": "7"},
        {"quiet_start": "22"},  # one end only
        {"quiet_start": "5", "quiet_end": "5"},
        {"quiet_start": "6", "quiet_end": "9"},  # the 08:00 digest inside quiet hours
        {"quiet_start": "0' OR 1=1--", "quiet_end": "7"},
    ],
)
def test_the_notification_form_refuses_hostile_input(client, cast, hostile):
    client.force_login(cast.reviewer)
    data = {"action": "notifications", "cadence": "daily", "digest_hour": "8", "digest_weekday": "0", **hostile}
    response = client.post(reverse("profile"), data)
    assert response.status_code == 400
    assert not NotificationPreference.objects.filter(user=cast.reviewer).exists()


def test_partner_staff_choose_their_organizations_email_digest(client, cast):
    partner = TrustedPartner.objects.create(
        organization=cast.partner_org, emails="duty@partner.example", webhook_url="https://partner.example/hook"
    )
    client.force_login(cast.partner)
    data = {"cadence": "weekly", "digest_hour": "9", "digest_weekday": "4", "digest_time_zone": "Europe/London"}
    for bad in ({"digest_time_zone": "Mars/Olympus"}, {"digest_hour": "25"}, {"cadence": "never"}):
        assert client.post(reverse("partners:digest"), {**data, **bad}).status_code == 400
    response = client.post(reverse("partners:digest"), data, follow=True)
    assert "Weekly on Friday at 09:00 Europe/London" in response.content.decode()
    partner.refresh_from_db()
    assert (partner.email_cadence, partner.digest_hour, partner.digest_weekday) == ("weekly", 9, 4)
    # Nobody else's: another organization's staff, and the office, find no such page.
    for outsider in (cast.developer, cast.admin):
        client.force_login(outsider)
        assert client.get(reverse("partners:digest")).status_code == 404


def test_a_full_batch_leaves_its_last_reader_whole_for_the_next_run(cast):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        for person in (cast.reviewer, cast.lead):
            prefer(person, "UTC", cadence=DigestCadence.DAILY, digest_hour=12)
        tell(s, [cast.reviewer, cast.lead], n=5)
    with time_machine.travel(dt.datetime(2026, 1, 12, 12, 0, tzinfo=UTC), tick=False):
        first = digests.digests_send(limit=7)
        second = digests.digests_send(limit=7)
        assert digests.digests_send(limit=7) == []
    assert len(first) == 1 and len(second) == 1
    for digest in Delivery.objects.filter(event__isnull=True):
        assert digest.items.count() == 5


def test_urgency_is_judged_when_the_digest_would_go_out(cast):
    """A weekly digest six days away would bring news of a deadline four days off too late:
    held only while the deadline is still more than 48 hours after the digest."""
    with time_machine.travel(T0, tick=False):
        soon = cast.submission(State.EVALUATION, model_name="Soon")
        later = cast.submission(State.EVALUATION, model_name="Later")
        ReviewClock.objects.filter(submission=soon).update(deadline_at=T0 + dt.timedelta(days=4))
        ReviewClock.objects.filter(submission=later).update(deadline_at=T0 + dt.timedelta(days=10))
        # Weekly on Sunday 08:00 UTC: six days after Monday T0.
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.WEEKLY, digest_weekday=Weekday.SUNDAY, digest_hour=8)
        tell(soon, [cast.reviewer])
        tell(later, [cast.reviewer])
    statuses = dict(mine(cast.reviewer).values_list("event__submission__model_name", "status"))
    assert statuses == {"Soon": "pending", "Later": "held"}


def test_quiet_hours_never_hold_an_urgent_item_to_within_a_day_of_its_deadline(cast):
    at_night = at(2026, 1, 12, 23, 0, zone="Europe/Berlin")
    with time_machine.travel(at_night, tick=False):
        near = cast.submission(State.EVALUATION, model_name="Near")
        far = cast.submission(State.EVALUATION, model_name="Far")
        # Quiet until 07:00: "Near" is due at 05:00, before they end; "Far" has days left after.
        ReviewClock.objects.filter(submission=near).update(deadline_at=at_night + dt.timedelta(hours=6))
        ReviewClock.objects.filter(submission=far).update(deadline_at=at_night + dt.timedelta(days=5))
        prefer(cast.reviewer, "Europe/Berlin", quiet_start=22, quiet_end=7)
        tell(near, [cast.reviewer])
        tell(far, [cast.reviewer])
    attempts = dict(mine(cast.reviewer).values_list("event__submission__model_name", "next_attempt_at"))
    assert attempts == {"Near": at_night, "Far": at(2026, 1, 13, 7, 0, zone="Europe/Berlin")}


def test_a_digest_item_carries_what_the_single_email_would(cast):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=12)
        services.event_record(
            submission=s,
            type="review.concurrence_requested",
            extra={
                "summary": "Cleared with one mitigation in place.",
                "release_conditions": "Keep the refusal filter on.",
                "open_weights_note": "Published weights cannot be recalled.",
            },
            recipients=[cast.reviewer],
        )
    with time_machine.travel(dt.datetime(2026, 1, 12, 12, 0, 30, tzinfo=UTC), tick=False):
        [digest_id] = digests.digests_send()
    body = Delivery.objects.get(pk=digest_id).body
    for fact in (
        "    Summary released by the office: Cleared with one mitigation in place.",
        "    Release conditions: Keep the refusal filter on.",
        "    Published weights cannot be recalled.",
    ):
        assert fact in body


def test_a_reader_deactivated_while_items_wait_gets_no_digest(cast):
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION)
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=12)
        prefer(cast.lead, "UTC", cadence=DigestCadence.DAILY, digest_hour=12)
        tell(s, [cast.reviewer, cast.lead], n=2)
    type(cast.reviewer).objects.filter(pk=cast.reviewer.pk).update(is_active=False)
    with time_machine.travel(dt.datetime(2026, 1, 12, 12, 0, 30, tzinfo=UTC), tick=False):
        sent = digests.digests_send()
    assert list(Delivery.objects.filter(pk__in=sent).values_list("recipient", flat=True)) == [cast.lead.pk]
    assert set(mine(cast.reviewer).values_list("status", flat=True)) == {"dropped"}
    assert mine(cast.reviewer)[0].last_error == digests.READER_GONE


@pytest.mark.parametrize(
    "event_type",
    [
        "submission.information_requested",
        "submission.pause_limit_warning",
        "submission.returned",
        "submission.withdrawn_by_office",
    ],
)
def test_what_a_developer_must_act_on_or_hear_at_once_is_never_held(cast, event_type):
    """A question the review waits on (its clock paused, so no running deadline), the warning
    that the submission will be returned, and a review ended without a determination: sent at
    once to a developer who chose a weekly digest."""
    with time_machine.travel(T0, tick=False):
        s = cast.submission(State.EVALUATION, model_name="Owed")
        prefer(cast.developer, "UTC", cadence=DigestCadence.WEEKLY, digest_weekday=Weekday.SUNDAY, digest_hour=8)
        services.event_record(submission=s, type=event_type, recipients=[cast.developer])
    assert list(Delivery.objects.filter(recipient=cast.developer).values_list("status", flat=True)) == ["pending"]


def test_a_pause_limit_warning_is_judged_by_when_the_submission_would_be_returned():
    """Its payload's return date counts as a deadline, beside any running review clock."""
    event = type("E", (), {"submission_id": 1, "payload": {"returned_at": (T0 + dt.timedelta(days=2)).isoformat()}})
    assert digests.deadline_of(event, {}) == T0 + dt.timedelta(days=2)
    assert digests.deadline_of(event, {1: T0 + dt.timedelta(days=1)}) == T0 + dt.timedelta(days=1)


def elapse_at(submission, moment):
    """The review window of `submission` runs out at `moment`, and the sweep acts then."""
    from submissions import review_clock

    ReviewClock.objects.filter(submission=submission).update(deadline_at=moment)
    review_clock.act_on_due_items(moment)


def test_quiet_hours_never_hold_news_of_an_elapsed_window(cast):
    """Issue 30: quiet hours 18:00-20:00, a window elapsing at 18:23 waited for 20:00. An
    elapsed window is urgent by its kind, and its deadline has passed: it goes at once."""
    elapsed_at = dt.datetime(2026, 1, 12, 18, 23, tzinfo=UTC)
    with time_machine.travel(T0, tick=False) as traveller:
        s = cast.submission(State.EVALUATION)
        prefer(cast.lead, "UTC", quiet_start=18, quiet_end=20)
        prefer(cast.reviewer, "Europe/Berlin", quiet_start=22, quiet_end=7)
        traveller.move_to(elapsed_at)
        elapse_at(s, elapsed_at)
    told = Delivery.objects.filter(
        event__type=PartnerEventType.WINDOW_ELAPSED, recipient__in=[cast.lead, cast.reviewer]
    )
    assert set(told.values_list("recipient__username", "status", "next_attempt_at")) == {
        (cast.lead.username, "pending", elapsed_at),
        (cast.reviewer.username, "pending", elapsed_at),
    }


def test_quiet_hours_never_hold_an_item_whose_deadline_has_passed(cast):
    """A request about a review already past its deadline is not left for the morning."""
    at_night = at(2026, 1, 12, 23, 0, zone="Europe/Berlin")
    with time_machine.travel(at_night, tick=False):
        late = cast.submission(State.EVALUATION, model_name="Late")
        prefer(cast.reviewer, "Europe/Berlin", quiet_start=22, quiet_end=7)
        services.event_record(
            submission=late,
            type="review.results_reminder",
            extra={"deadline_at": (at_night - dt.timedelta(hours=2)).isoformat()},
            recipients=[cast.reviewer],
        )
    [delivery] = Delivery.objects.filter(recipient=cast.reviewer, event__type="review.results_reminder")
    assert (delivery.status, delivery.next_attempt_at) == ("pending", at_night)


def test_a_partner_digest_never_holds_news_of_an_elapsed_window(cast):
    partner = TrustedPartner.objects.create(
        organization=cast.partner_org,
        event_types=list(PartnerEventType.values),
        emails="desk@partner.example",
        email_cadence=DigestCadence.WEEKLY,
        digest_weekday=Weekday.SUNDAY,
    )
    elapsed_at = dt.datetime(2026, 1, 12, 18, 23, tzinfo=UTC)
    with time_machine.travel(T0, tick=False) as traveller:
        s = cast.submission(State.EVALUATION)
        traveller.move_to(elapsed_at)
        elapse_at(s, elapsed_at)
    [delivery] = Delivery.objects.filter(partner=partner, event__type=PartnerEventType.WINDOW_ELAPSED)
    assert (delivery.status, delivery.next_attempt_at) == ("pending", elapsed_at)


def test_a_new_preference_never_defers_what_is_urgent_and_frees_what_quiet_hours_held(cast):
    """Re-judged after a change, as if written now: an item deferred by quiet hours the person
    has just removed goes now; one about an elapsed window was never deferred and is not now."""
    from accounts import services as account_services

    at_night = at(2026, 1, 12, 23, 0, zone="Europe/Berlin")
    with time_machine.travel(at_night, tick=False) as traveller:
        calm, late = cast.submission(State.EVALUATION), cast.submission(State.EVALUATION)
        prefer(cast.reviewer, "Europe/Berlin", quiet_start=22, quiet_end=7)
        tell(calm, [cast.reviewer])
        [deferred] = mine(cast.reviewer)
        assert deferred.next_attempt_at == at(2026, 1, 13, 7, 0, zone="Europe/Berlin")
        traveller.move_to(at_night + dt.timedelta(minutes=30))
        elapse_at(late, services.clock.now())
        account_services.notification_preference_set(
            user=cast.reviewer, cadence=DigestCadence.IMMEDIATE, quiet_start=23, quiet_end=5
        )
        # Still quiet (23:00-05:00): the request waits for 05:00; the elapsed window does not.
        deferred.refresh_from_db()
        assert (deferred.status, deferred.next_attempt_at) == ("pending", at(2026, 1, 13, 5, 0, zone="Europe/Berlin"))
        elapsed = Delivery.objects.get(recipient=cast.reviewer, event__type=PartnerEventType.WINDOW_ELAPSED)
        assert elapsed.next_attempt_at == services.clock.now()
        account_services.notification_preference_set(user=cast.reviewer, cadence=DigestCadence.IMMEDIATE)
        deferred.refresh_from_db()
        assert (deferred.status, deferred.next_attempt_at) == ("pending", services.clock.now())


def propose(cast, name):
    from reviews import services as review_services

    s = cast.submission(State.EVALUATION, model_name=name)
    record_all_results(s, cast.reviewer)
    return review_services.determination_propose_flag(
        submission=s, actor=cast.lead, rationale="Uplift.", partner_summary="Flagged."
    )


def test_a_digest_leaves_out_what_was_done_before_it_and_says_what_changed(cast):
    """Issue 30: the 19:00 digest asked a reviewer to concur with three proposals he had
    concurred with 35 minutes earlier, and called an agreement Suspended after it was reinstated.
    Each line is read again when the digest is written: a concurrence already given is left out
    (the item says why), one still awaited stays, and the agreement is named as it stands."""
    from reviews import services as review_services
    from submissions import services as submission_services

    with time_machine.travel(T0, tick=False) as traveller:
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=19)
        done = [propose(cast, name) for name in ("One", "Two", "Three")]
        waiting = propose(cast, "Four")
        agreement = Agreement.objects.get(organization=cast.lab)
        open_reviews = {str(s.pk): "continue" for s in submission_services.agreement_open_reviews(agreement)}
        submission_services.agreement_change_status(
            agreement=agreement, action="suspend", actor=cast.admin, note="Audit pending.", open_reviews=open_reviews
        )
        traveller.move_to(dt.datetime(2026, 1, 12, 18, 25, tzinfo=UTC))
        for proposal in done:
            review_services.determination_concur(determination=proposal, actor=cast.reviewer)
        agreement.refresh_from_db()
        submission_services.agreement_change_status(
            agreement=agreement, action="reinstate", actor=cast.admin, note="Audit passed."
        )
        traveller.move_to(dt.datetime(2026, 1, 12, 19, 0, tzinfo=UTC))
        [digest_id] = digests.digests_send()
    body = Delivery.objects.get(pk=digest_id).body
    asked = "Concurrence asked for a proposed determination"
    assert body.count(asked) == 1 and body.index("Four") < body.index(asked)
    assert "Review agreement: Suspended" not in body
    assert body.count("Review agreement: Signed now (it was Suspended: Audit pending.)") == 4
    answered = mine(cast.reviewer).filter(event__submission__in=[p.submission for p in done])
    assert set(answered.values_list("status", "last_error")) == {("dropped", digests.ACTED_ON)}
    assert mine(cast.reviewer).get(event__submission=waiting.submission).status == "digested"


def test_no_digest_is_sent_when_everything_in_it_was_done_already(cast):
    from reviews import services as review_services

    with time_machine.travel(T0, tick=False) as traveller:
        s = cast.submission(State.EVALUATION, model_name="Solo")
        record_all_results(s, cast.reviewer)
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=19)
        # Asked twice, the proposal rewritten in between: the first request is overtaken by
        # the second, and the second is answered (by another reviewer) before the digest.
        for rationale in ("Uplift.", "Uplift, rewritten."):
            traveller.shift(dt.timedelta(minutes=5))
            proposal = review_services.determination_propose_flag(
                submission=s, actor=cast.lead, rationale=rationale, partner_summary="Flagged."
            )
        assert list(mine(cast.reviewer).values_list("status", flat=True)) == ["held", "held"]
        traveller.move_to(dt.datetime(2026, 1, 12, 18, 0, tzinfo=UTC))
        review_services.determination_concur(determination=proposal, actor=cast.low_reviewer)
        traveller.move_to(dt.datetime(2026, 1, 12, 19, 0, tzinfo=UTC))
        assert digests.digests_send() == []
    assert set(mine(cast.reviewer).values_list("status", flat=True)) == {"dropped"}


def test_a_call_to_act_the_review_has_moved_past_says_where_it_is_now(cast):
    """Assigned at 09:30 with a daily digest at 19:00; the review was determined at 15:00: the
    digest does not tell the reviewer to record results for it, it says where it stands."""
    with time_machine.travel(T0, tick=False) as traveller:
        prefer(cast.reviewer, "UTC", cadence=DigestCadence.DAILY, digest_hour=19)
        s = cast.submission(State.EVALUATION, model_name="Moved")
        traveller.move_to(dt.datetime(2026, 1, 12, 15, 0, tzinfo=UTC))
        record_all_results(s, cast.reviewer)
        move(s, "clear", cast.lead)
        traveller.move_to(dt.datetime(2026, 1, 12, 19, 0, tzinfo=UTC))
        [digest_id] = digests.digests_send()
    body = Delivery.objects.get(pk=digest_id).body
    assert "Assigned to a review" in body and "record evaluation results" not in body
    assert "What to do: It has moved on since: the submission is cleared now." in body
