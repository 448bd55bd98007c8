"""The review clock on moved time: start, pause, resume, warnings, expiry at the boundary."""

import datetime as dt

import pytest
import time_machine

from partners.models import Event
from submissions import review_clock
from submissions.models import ModelSubmission, SlaBreach, SlaKind, SlaObligation, State
from tests.factories import move, record_all_results
from tests.submissions.clocks import DAY, START, clock_of, sweep_at

pytestmark = pytest.mark.django_db


def test_clock_starts_on_submit_with_the_agreements_window(cast, traveller):
    s = cast.submission(State.INTAKE)
    c = clock_of(s)
    assert c.started_at == START and c.window == 30 * DAY and c.deadline_at == START + 30 * DAY
    assert c.status == "running" and c.next_warning_at == START + 23 * DAY


def test_shorter_window_from_the_agreement(cast, traveller):
    from tests.factories import signed_agreement

    signed_agreement(cast.lab, window=10)
    s = cast.submission(State.INTAKE)
    assert clock_of(s).deadline_at == START + 10 * DAY


def test_pause_and_resume_move_the_deadline_and_explain_it(cast, traveller):
    s = cast.submission(State.EVALUATION)
    traveller.move_to(START + 5 * DAY)
    move(s, "request_information", cast.lead)
    c = clock_of(s)
    assert c.status == "paused" and c.pauses.get().reason.startswith("information requested")
    traveller.move_to(START + 8 * DAY + dt.timedelta(hours=4))
    # While paused, the time left stands still at what it was when the pause began.
    assert c.remaining(review_clock.clock.now()) == 25 * DAY
    text = review_clock.describe_remaining(c, review_clock.clock.now())
    assert text == "25 days left; paused since 6 Jul 2026, 09:00 UTC (information requested from the developer)"
    move(s, "answer_information_request", cast.developer)
    c.refresh_from_db()
    assert c.status == "running" and c.paused_total == 3 * DAY + dt.timedelta(hours=4)
    assert c.deadline_at == START + 33 * DAY + dt.timedelta(hours=4)
    text = review_clock.describe_remaining(c, review_clock.clock.now())
    assert text == "25 days left; paused 3 days 4 hours in all for information"


def test_a_paused_clock_past_its_old_deadline_is_paused_not_overdue(cast, client, traveller):
    """While paused, the stored deadline is the one that stood when the pause began, and no deadline
    runs: past that moment, the pages say the clock is paused and how long is left when it resumes,
    never that the review is overdue."""
    from django.urls import reverse

    s = cast.submission(State.EVALUATION)
    traveller.move_to(START + 25 * DAY)
    move(s, "request_information", cast.lead)
    traveller.move_to(START + 30 * DAY + dt.timedelta(hours=10))
    client.force_login(cast.developer)
    for url in (s.get_absolute_url(), reverse("submissions:action", args=[s.pk, "answer_information_request"])):
        page = client.get(url).content.decode()
        assert "overdue" not in page, url
        assert "5 days left; paused since 26 Jul 2026, 09:00 UTC" in page, url
        assert (
            "No deadline runs while the clock is paused: it is set again when the clock resumes, with 5 days left."
            in page
        ), url


def test_paused_clock_never_expires(cast, traveller):
    s = cast.submission(State.INTAKE)
    traveller.move_to(START + 20 * DAY)
    move(s, "request_information", cast.admin)
    # Past the window as first planned, short of the pause limit (30 days paused: day 50).
    report = sweep_at(traveller, START + 40 * DAY)
    s.refresh_from_db()
    assert s.state == State.INFORMATION_REQUESTED and not report.expired


def test_expiry_at_the_exact_boundary(cast, traveller):
    s = cast.submission(State.EVALUATION)
    deadline = clock_of(s).deadline_at
    assert not sweep_at(traveller, deadline - dt.timedelta(microseconds=1)).expired
    s.refresh_from_db()
    assert s.state == State.EVALUATION
    report = sweep_at(traveller, deadline)
    s.refresh_from_db()
    assert s.state == State.WINDOW_ELAPSED and report.expired == [clock_of(s).pk]
    assert clock_of(s).status == "elapsed"
    breach = SlaBreach.objects.get(submission=s, kind=SlaKind.DETERMINATION)
    assert breach.due_at == deadline and breach.detected_at == deadline
    entry = s.audit_entries.get(action="elapse")
    assert entry.actor is None and "30-day review window ended" in entry.comment
    assert Event.objects.filter(submission=s, type="submission.window_elapsed").count() == 1


def test_expiry_is_recorded_once_however_often_the_sweep_runs(cast, traveller):
    s = cast.submission(State.INTAKE)
    deadline = clock_of(s).deadline_at
    for minutes in range(5):
        sweep_at(traveller, deadline + dt.timedelta(minutes=minutes))
    assert review_clock.expire_clock(clock_of(s).pk) is False  # the late eta task finds nothing to do
    assert SlaBreach.objects.filter(submission=s, kind=SlaKind.DETERMINATION).count() == 1
    assert Event.objects.filter(submission=s, type="submission.window_elapsed").count() == 1
    assert s.audit_entries.filter(action="elapse").count() == 1


def test_window_elapsed_opens_release_to_the_developer(cast, traveller):
    s = cast.submission(State.EVALUATION)
    sweep_at(traveller, clock_of(s).deadline_at)
    s.refresh_from_db()
    move(s, "record_release", cast.developer)
    assert s.state == State.RELEASED and not s.released_after_flag


def test_determination_stops_the_clock(cast, traveller):
    s = cast.submission(State.EVALUATION)
    record_all_results(s, cast.reviewer)
    move(s, "clear", cast.lead)
    c = clock_of(s)
    assert c.status == "stopped" and c.next_warning_at is None
    sweep_at(traveller, START + 60 * DAY)
    s.refresh_from_db()
    assert s.state == State.CLEARED and not SlaBreach.objects.filter(submission=s).exists()


def test_withdrawal_stops_the_clock_and_closes_obligations(cast, traveller):
    s = cast.submission(State.INFORMATION_REQUESTED)
    move(s, "withdraw", cast.developer)
    c = clock_of(s)
    assert c.status == "stopped" and c.pauses.get().ended_at == START
    assert not SlaObligation.objects.filter(submission=s, closed_at__isnull=True).exists()


class TestWarnings:
    def warnings(self, s):
        return list(
            Event.objects.filter(submission=s, type="review.deadline_warning")
            .order_by("occurred_at")
            .values_list("payload__days_left", flat=True)
        )

    def test_seven_and_two_days_left_each_once(self, cast, traveller):
        s = cast.submission(State.EVALUATION)
        deadline = clock_of(s).deadline_at
        sweep_at(traveller, deadline - 8 * DAY)
        assert self.warnings(s) == []
        for offset in (7 * DAY, 7 * DAY - dt.timedelta(minutes=1), 5 * DAY, 2 * DAY, DAY):
            sweep_at(traveller, deadline - offset)
        assert self.warnings(s) == [7, 2]

    def test_warning_goes_to_reviewers_and_administrators(self, cast, traveller):
        s = cast.submission(State.EVALUATION)
        sweep_at(traveller, clock_of(s).deadline_at - 7 * DAY)
        event = Event.objects.get(submission=s, type="review.deadline_warning")
        recipients = set(event.deliveries.values_list("recipient__username", flat=True))
        assert recipients == {"lead", "reviewer", "reviewer.cui", "admin"}

    def test_after_an_outage_only_the_most_urgent_warning_is_sent(self, cast, traveller):
        s = cast.submission(State.EVALUATION)
        sweep_at(traveller, clock_of(s).deadline_at - DAY)
        assert self.warnings(s) == [2]

    def test_short_window_skips_the_seven_day_warning(self, cast, traveller):
        from tests.factories import signed_agreement

        signed_agreement(cast.lab, window=5)
        s = cast.submission(State.EVALUATION)
        assert clock_of(s).next_warning_at == START + 3 * DAY
        for day in range(6):
            sweep_at(traveller, START + day * DAY)
        assert self.warnings(s) == [2]

    def test_a_pause_postpones_the_warning(self, cast, traveller):
        s = cast.submission(State.EVALUATION)
        traveller.move_to(START + 20 * DAY)
        move(s, "request_information", cast.lead)
        sweep_at(traveller, START + 25 * DAY)
        assert self.warnings(s) == []
        move(s, "answer_information_request", cast.developer)
        # 10 days were left at the pause, so the 7-day warning is due 3 days after resuming.
        sweep_at(traveller, START + 28 * DAY - dt.timedelta(minutes=1))
        assert self.warnings(s) == []
        sweep_at(traveller, START + 28 * DAY)
        assert self.warnings(s) == [7]


class TestSlaBreaches:
    def breaches(self, s):
        return sorted(SlaBreach.objects.filter(submission=s).values_list("kind", flat=True))

    def test_intake_decision_breached_once_after_three_days(self, cast, traveller):
        s = cast.submission(State.INTAKE)
        sweep_at(traveller, START + 3 * DAY - dt.timedelta(seconds=1))
        assert self.breaches(s) == []
        sweep_at(traveller, START + 3 * DAY)
        sweep_at(traveller, START + 4 * DAY)
        assert self.breaches(s) == [SlaKind.INTAKE_DECISION]
        breach = SlaBreach.objects.get(submission=s)
        assert breach.due_at == START + 3 * DAY and breach.detected_at == START + 3 * DAY

    def test_accepting_in_time_meets_the_intake_target(self, cast, traveller):
        s = cast.submission(State.INTAKE)
        traveller.move_to(START + 2 * DAY)
        move(s, "accept", cast.admin)
        sweep_at(traveller, START + 10 * DAY)
        # No intake breach; but no lead was assigned within 2 days of acceptance.
        assert self.breaches(s) == [SlaKind.REVIEWER_ASSIGNMENT]

    def test_assigning_a_lead_meets_the_assignment_target(self, cast, traveller):
        s = cast.submission(State.EVALUATION)  # Cast assigns a lead at once
        sweep_at(traveller, START + 10 * DAY)
        assert self.breaches(s) == []

    def test_developer_answer_target(self, cast, traveller):
        s = cast.submission(State.INFORMATION_REQUESTED)
        sweep_at(traveller, START + 11 * DAY)
        assert self.breaches(s) == [SlaKind.DEVELOPER_ANSWER]

    def test_targets_come_from_the_policy(self, cast, traveller):
        from submissions.models import SlaPolicy

        policy = SlaPolicy.current()
        policy.intake_decision_days = 1
        policy.save()
        s = cast.submission(State.INTAKE)
        sweep_at(traveller, START + DAY)
        assert self.breaches(s) == [SlaKind.INTAKE_DECISION]

    def test_breach_recorded_once_even_if_the_row_is_raced(self, cast, traveller):
        s = cast.submission(State.INTAKE)
        traveller.move_to(START + 5 * DAY)
        obligation = SlaObligation.objects.get(submission=s, kind=SlaKind.INTAKE_DECISION)
        now = review_clock.clock.now()
        assert review_clock.breach_obligation(obligation.pk, now) is True
        assert review_clock.breach_obligation(obligation.pk, now) is False
        assert SlaBreach.objects.filter(submission=s).count() == 1
        assert Event.objects.filter(submission=s, type=review_clock.BREACH_EVENT).count() == 1

    def told_of_breaches(self, s):
        from partners.models import Delivery

        return sorted(
            Delivery.objects.filter(event__submission=s, event__type=review_clock.BREACH_EVENT).values_list(
                "recipient__username", "status", "next_attempt_at"
            )
        )

    def test_an_overdue_intake_decision_emails_the_administrators_once(self, cast, traveller):
        """Issue 30: a breach was recorded and shown on the administrator's home, and nobody was
        told. The office's administrators are emailed once, however often the sweep runs."""
        from partners.messages import email_for
        from partners.models import Delivery

        s = cast.submission(State.INTAKE, model_name="Late-Sim")
        sweep_at(traveller, START + 3 * DAY)
        sweep_at(traveller, START + 4 * DAY)
        assert self.told_of_breaches(s) == [(cast.admin.username, "pending", START + 3 * DAY)]
        subject, body = email_for(Delivery.objects.get(event__type=review_clock.BREACH_EVENT))
        assert subject == "Overdue: intake decision for Late-Sim 1.0 (Lab Alpha)"
        assert "Missed target: Intake decision" in body and "Was due: 4 Jul 2026, 09:00 UTC" in body
        assert "What to do: Decide on intake now" in body and f"/submissions/{s.pk}/" in body

    def test_an_overdue_reviewer_assignment_emails_the_administrators(self, cast, traveller):
        s = cast.submission(State.INTAKE)
        move(s, "accept", cast.admin)
        sweep_at(traveller, START + 10 * DAY)
        assert [who for who, *_ in self.told_of_breaches(s)] == [cast.admin.username]
        event = Event.objects.get(submission=s, type=review_clock.BREACH_EVENT)
        assert event.payload["sla_target"] == "Reviewer assignment"
        assert "Assign a lead reviewer" in event.payload["next_action"]

    def test_a_developers_late_answer_is_not_an_office_target(self, cast, traveller):
        """The developer's own answer is chased by its own warnings and the return: recorded as a
        breach, but not emailed to the office as one of its own targets missed."""
        s = cast.submission(State.INFORMATION_REQUESTED)
        sweep_at(traveller, START + 11 * DAY)
        assert self.breaches(s) == [SlaKind.DEVELOPER_ANSWER] and self.told_of_breaches(s) == []

    def test_a_breach_is_urgent_past_a_digest_and_quiet_hours(self, cast, traveller):
        """An administrator with a weekly digest and quiet hours at the moment of the breach is
        emailed at once: the target is already missed."""
        from accounts.models import DigestCadence, NotificationPreference

        NotificationPreference.objects.create(
            user=cast.admin, cadence=DigestCadence.WEEKLY, digest_hour=8, quiet_start=8, quiet_end=12
        )
        s = cast.submission(State.INTAKE)
        sweep_at(traveller, START + 3 * DAY)  # 09:00 UTC: inside quiet hours
        assert self.told_of_breaches(s) == [(cast.admin.username, "pending", START + 3 * DAY)]

    def test_administrator_acknowledges_with_a_note(self, cast, traveller):
        from caisi_portal.errors import NotPermitted, ValidationFailed

        s = cast.submission(State.INTAKE)
        sweep_at(traveller, START + 4 * DAY)
        breach = SlaBreach.objects.get(submission=s)
        with pytest.raises(NotPermitted):
            review_clock.breach_acknowledge(breach=breach, actor=cast.lead, note="x")
        with pytest.raises(ValidationFailed):
            review_clock.breach_acknowledge(breach=breach, actor=cast.admin, note=" ")
        review_clock.breach_acknowledge(breach=breach, actor=cast.admin, note="Holiday backlog.")
        breach.refresh_from_db()
        assert breach.acknowledged_by == cast.admin and breach.acknowledgement_note == "Holiday backlog."
        assert s.audit_entries.filter(action="breach_acknowledged").exists()
        with pytest.raises(ValidationFailed, match="already"):
            review_clock.breach_acknowledge(breach=breach, actor=cast.admin, note="again")


def test_sweep_queries_do_not_grow_with_open_clocks(cast, traveller, django_assert_max_num_queries):
    """Nothing due: the sweep's cost is its fixed queries, whatever is open."""
    for _ in range(5):
        cast.submission(State.EVALUATION)
    traveller.move_to(START + DAY)
    with django_assert_max_num_queries(6):
        review_clock.sweep()


def test_a_stopped_clock_says_when_and_how_much_of_the_window_was_left(cast, traveller):
    s = cast.submission(State.EVALUATION)
    traveller.move_to(START + 12 * DAY)
    s = cast_clear(cast, s)
    c = clock_of(s)
    text = review_clock.describe_remaining(c, review_clock.clock.now())
    assert c.status == "stopped"
    assert (
        text == f"stopped {(START + 12 * DAY).day} {START + 12 * DAY:%b %Y, %H:%M} UTC with 18 days of the window left"
    )


def cast_clear(cast, s):
    from tests.factories import record_all_results

    record_all_results(s, cast.reviewer)
    return move(s, "clear", cast.lead, partner_summary="Cleared.")


def test_a_poisoned_item_is_logged_and_the_sweep_goes_on(cast, monkeypatch, caplog):
    """One due clock whose expiry raises: logged, left running for the next run; the others elapse."""
    from submissions import review_clock as rc

    with time_machine.travel(dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC), tick=False) as traveller:
        subs = [cast.submission(State.EVALUATION) for _ in range(4)]
        poisoned = subs[1].review_clock.pk
        real = rc.clocks_expire

        def expire(clock_ids):
            # The chunk holding it fails as a whole; then each clock is tried alone.
            if poisoned in clock_ids:
                raise RuntimeError("a bad row")
            return real(clock_ids)

        monkeypatch.setattr(rc, "clocks_expire", expire)
        traveller.shift(dt.timedelta(days=31))
        report = rc.act_on_due_items(rc.clock.now())
    assert ("expiry", poisoned) in report.failed and "a bad row" in caplog.text
    states = {s.pk: ModelSubmission.objects.get(pk=s.pk).state for s in subs}
    assert states.pop(subs[1].pk) == State.EVALUATION  # untouched, due again next run
    assert set(states.values()) == {State.WINDOW_ELAPSED}
    assert not report.batch_full


def test_a_burst_of_expiries_is_acted_on_together_in_fixed_queries(cast, traveller):
    """Three windows ending at once cost the sweep the same queries as twelve; each of them
    gets exactly what one window ending alone gets: its audit entry (chain intact), its
    breach, its event, and its notices to the partner, the lab, the review team and the office."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from partners.models import Delivery, PartnerEventType, TrustedPartner
    from submissions import audit_chain

    TrustedPartner.objects.create(
        organization=cast.partner_org,
        webhook_url="https://partner.example/hook",
        emails="desk@partner.example",
        event_types=[PartnerEventType.WINDOW_ELAPSED],
    )
    few = [cast.submission(State.EVALUATION) for _ in range(3)]
    traveller.shift(10 * DAY)  # their warnings fall after the first burst's deadline
    many = [cast.submission(State.EVALUATION) for _ in range(12)]
    queries = []
    for burst in (few, many):
        deadline = max(clock_of(s).deadline_at for s in burst)
        sweep_at(traveller, deadline - dt.timedelta(microseconds=1))  # warnings and other obligations first
        traveller.move_to(deadline)
        with CaptureQueriesContext(connection) as captured:
            report = review_clock.act_on_due_items(review_clock.clock.now())
        assert sorted(report.expired) == sorted(clock_of(s).pk for s in burst) and not report.failed
        queries.append(len(captured))
    assert queries[0] == queries[1], queries

    expected_people = {cast.developer.email, cast.lead.email, cast.reviewer.email, cast.low_reviewer.email}
    expected_people |= {cast.admin.email}
    for s in few + many:
        s.refresh_from_db()
        assert s.state == State.WINDOW_ELAPSED and clock_of(s).status == "elapsed"
        assert s.audit_entries.filter(action="elapse", from_state=State.EVALUATION).count() == 1
        assert SlaBreach.objects.filter(submission=s, kind=SlaKind.DETERMINATION).count() == 1
        assert not SlaObligation.objects.filter(submission=s, closed_at__isnull=True).exists()
        event = Event.objects.get(submission=s, type=PartnerEventType.WINDOW_ELAPSED)
        assert event.payload["outcome"] == "window_elapsed" and event.payload["submission_id"] == s.pk
        told = Delivery.objects.filter(event=event)
        assert set(told.filter(recipient__isnull=False).values_list("address", flat=True)) == expected_people
        assert set(told.filter(partner__isnull=False).values_list("channel", "address")) == {
            ("webhook", "https://partner.example/hook"),
            ("email", "desk@partner.example"),
        }
    checked, broken = audit_chain.verify()
    assert broken is None and checked > 0


@pytest.mark.postgres  # SKIP LOCKED: SQLite takes the whole database's write lock instead
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_clock_someone_is_changing_is_skipped_not_waited_for(cast, traveller):
    """The sweep does not queue behind a person's open transaction on the same submission:
    it skips the locked row, and the next run acts if that change did not end the review."""
    import threading

    from django.db import connection, transaction

    s = cast.submission(State.EVALUATION)
    other = cast.submission(State.EVALUATION)
    traveller.move_to(clock_of(other).deadline_at)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        with transaction.atomic():
            ModelSubmission.objects.select_for_update().get(pk=s.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(10)
        assert review_clock.clocks_expire([clock_of(s).pk, clock_of(other).pk]) == [clock_of(other).pk]
    finally:
        release.set()
        holder.join()
    assert review_clock.clocks_expire([clock_of(s).pk]) == [clock_of(s).pk]


def test_a_sweep_run_works_through_a_burst_larger_than_one_batch(cast, traveller, monkeypatch):
    """More due than one batch: the run takes batch after batch until none is full, rather than
    queuing itself behind the notices the burst has just queued."""
    monkeypatch.setattr(review_clock, "SWEEP_BATCH", 2)
    subs = [cast.submission(State.EVALUATION) for _ in range(5)]
    traveller.move_to(max(clock_of(s).deadline_at for s in subs))
    report = review_clock.sweep_run()
    assert sorted(report.expired) == sorted(clock_of(s).pk for s in subs)
    assert not report.batch_full and not review_clock.due_items(review_clock.clock.now())


def test_a_sweep_run_hands_over_when_its_time_is_up(cast, traveller, monkeypatch):
    monkeypatch.setattr(review_clock, "SWEEP_BATCH", 2)
    subs = [cast.submission(State.EVALUATION) for _ in range(5)]
    traveller.move_to(max(clock_of(s).deadline_at for s in subs))
    report = review_clock.sweep_run(seconds=0)
    assert len(report.expired) == 2 and report.batch_full  # the task queues the next run


@pytest.mark.postgres  # two transactions at once on one row: SQLite serialises whole databases
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_racing_on_a_breach_record_and_tell_it_once(cast, traveller):
    """Both sweeps find the obligation due; one wins the compare-and-set, the other waits on the
    row, then finds it breached and does nothing: one breach, one event, one email per admin."""
    import threading

    from django.db import connection

    from partners.models import Delivery

    s = cast.submission(State.INTAKE)
    traveller.move_to(START + 3 * DAY)
    obligation = SlaObligation.objects.get(submission=s, kind=SlaKind.INTAKE_DECISION)
    now = review_clock.clock.now()
    ready = threading.Barrier(2)
    results = []

    def sweep_one():
        try:
            ready.wait(10)
            results.append(review_clock.breach_obligation(obligation.pk, now))
        finally:
            connection.close()

    sweeps = [threading.Thread(target=sweep_one) for _ in range(2)]
    for t in sweeps:
        t.start()
    for t in sweeps:
        t.join(20)
    assert sorted(results) == [False, True]
    assert SlaBreach.objects.filter(submission=s).count() == 1
    assert Event.objects.filter(submission=s, type=review_clock.BREACH_EVENT).count() == 1
    told = Delivery.objects.filter(event__submission=s, event__type=review_clock.BREACH_EVENT)
    assert list(told.values_list("recipient__username", flat=True)) == [cast.admin.username]
