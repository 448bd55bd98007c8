"""Reminders about missing planned results: the sweep's steps (reviewers, lead, administrators,
each once) and the Remind button (who may press it, what it sends, no storms)."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from partners.messages import email_for
from partners.models import Delivery, Event
from reviews.models import EvaluationResult
from submissions import reminders, review_clock
from submissions.models import AuditEntry, ResultsReminder, SlaPolicy, State
from tests.factories import draft, move, record_all_results
from tests.submissions.clocks import DAY, START, clock_of, sweep_at


def told(submission, event_type=None):
    """(event type, reminder step, recipient username) for every reminder email written."""
    types = [event_type] if event_type else [reminders.REMINDER_EVENT, reminders.ESCALATION_EVENT]
    return sorted(
        Delivery.objects.filter(event__submission=submission, event__type__in=types).values_list(
            "event__type", "event__payload__reminder_step", "recipient__username"
        )
    )


def leave_one_result_missing(submission, reviewer):
    record_all_results(submission, reviewer)
    missing = EvaluationResult.objects.filter(submission=submission).order_by("domain__sort_order").last()
    missing.delete()
    return missing.domain.name


EXPECTED_STEPS = [
    ("review.results_escalation", "administrator", "admin"),
    ("review.results_escalation", "lead", "lead"),
    ("review.results_reminder", "reviewer", "reviewer"),
    ("review.results_reminder", "reviewer", "reviewer.cui"),
]


@pytest.mark.django_db
class TestSweepSteps:
    def test_reviewers_then_lead_then_administrators_each_once(self, cast, traveller):
        s = cast.submission(State.EVALUATION)
        deadline = clock_of(s).deadline_at
        sweep_at(traveller, deadline - 8 * DAY)
        assert told(s) == []
        sweep_at(traveller, deadline - 7 * DAY)
        assert told(s) == [
            ("review.results_reminder", "reviewer", "reviewer"),
            ("review.results_reminder", "reviewer", "reviewer.cui"),
        ]
        sweep_at(traveller, deadline - 3 * DAY)
        assert ("review.results_escalation", "lead", "lead") in told(s)
        # Sweeps at every moment in between and after send nothing again.
        for offset in (7 * DAY, 5 * DAY, 3 * DAY, 2 * DAY, DAY, DAY - dt.timedelta(minutes=1), dt.timedelta(hours=2)):
            sweep_at(traveller, deadline - offset)
        assert told(s) == EXPECTED_STEPS
        assert ResultsReminder.objects.filter(submission=s).count() == 4
        assert clock_of(s).next_reminder_at is None

    def test_a_lead_reviewing_alone_gets_one_message_when_reminder_and_escalation_fall_due_together(
        self, cast, traveller
    ):
        """The reviewers' reminder goes to the lead when no one else reviews, and so does the lead's
        escalation: due at the same sweep, they are one message that says both, not two at once.
        Both steps are on record, each once."""
        from reviews import services as review_services
        from reviews.models import Assignment

        s = move(move(draft(cast.developer), "submit", cast.developer), "accept", cast.admin)
        s.assignments.all().delete()  # whoever accepting suggested: this review is the lead's alone
        review_services.assignment_create(submission=s, reviewer=cast.lead, role=Assignment.Role.LEAD, actor=cast.admin)
        deadline = clock_of(s).deadline_at
        sweep_at(traveller, deadline - 2 * DAY)  # past the reminder (7 days) and the escalation (3 days)
        assert told(s) == [("review.results_escalation", "lead", "lead")]
        subject, body = email_for(
            Delivery.objects.get(event__submission=s, event__type=reminders.ESCALATION_EVENT, recipient=cast.lead)
        )
        assert subject.startswith("Escalation: planned results still missing")
        assert "the review's only reviewer" in body and "Record the planned results for" in body
        steps = ResultsReminder.objects.filter(submission=s).values_list("step", "recipient__username")
        assert sorted(steps) == [("lead", "lead"), ("reviewer", "lead")]
        (entry,) = s.audit_entries.filter(action__in=["results_reminder", "results_escalation"])
        assert "the review's only reviewer" in entry.comment
        # Later sweeps send nothing more to the lead (the administrators' step is theirs).
        sweep_at(traveller, deadline - DAY)
        assert [who for _, _, who in told(s)].count("lead") == 1

    def test_the_words_say_which_domains_are_missing_and_by_when(self, cast, traveller):
        s = cast.submission(State.EVALUATION)
        missing = leave_one_result_missing(s, cast.reviewer)
        sweep_at(traveller, clock_of(s).deadline_at - 7 * DAY)
        delivery = Delivery.objects.get(event__type=reminders.REMINDER_EVENT, recipient=cast.reviewer)
        subject, body = email_for(delivery)
        assert subject.startswith("Reminder: planned results missing for")
        assert f"Planned results: 1 planned result missing: {missing}" in body
        # The 30-day window from 1 Jul 09:00 UTC.
        assert f"Record the planned results for {missing} by 31 Jul 2026, 09:00 UTC." in body
        assert "Review deadline: 31 Jul 2026, 09:00 UTC" in body
        assert "Time left: 7 days" in body

    def test_nothing_is_sent_once_every_planned_result_is_recorded(self, cast, traveller):
        s = cast.submission(State.EVALUATION)
        record_all_results(s, cast.reviewer)
        for offset in (7 * DAY, 3 * DAY, DAY):
            sweep_at(traveller, clock_of(s).deadline_at - offset)
        assert told(s) == []
        assert clock_of(s).next_reminder_at is None

    def test_a_step_turned_off_is_skipped_and_offsets_come_from_the_policy(self, cast, traveller):
        SlaPolicy.objects.filter(pk=SlaPolicy.current().pk).update(
            reminder_days=10, escalate_lead_days=0, escalate_admin_days=2
        )
        s = cast.submission(State.EVALUATION)
        deadline = clock_of(s).deadline_at
        sweep_at(traveller, deadline - 10 * DAY)
        assert {step for _, step, _ in told(s)} == {"reviewer"}
        for offset in (3 * DAY, 2 * DAY, DAY):
            sweep_at(traveller, deadline - offset)
        assert {step for _, step, _ in told(s)} == {"reviewer", "administrator"}

    def test_paused_sends_nothing_and_resuming_sends_a_passed_step_once(self, cast, traveller):
        s = cast.submission(State.EVALUATION)
        deadline = clock_of(s).deadline_at
        sweep_at(traveller, deadline - 8 * DAY)
        move(s, "request_information", cast.lead)
        assert clock_of(s).next_reminder_at is None
        # Paused for 5 days: the deadline moves 5 days later; nothing is sent meanwhile.
        for offset in (7 * DAY, 4 * DAY):
            sweep_at(traveller, deadline - offset)
        assert told(s) == []
        move(s, "answer_information_request", cast.developer)
        s.refresh_from_db()
        assert s.state == State.EVALUATION
        assert clock_of(s).deadline_at == deadline + 4 * DAY
        assert clock_of(s).next_reminder_at == deadline - 3 * DAY  # 7 days before the moved deadline
        sweep_at(traveller, deadline - 3 * DAY)
        assert {step for _, step, _ in told(s)} == {"reviewer"}

    def test_a_determined_or_withdrawn_review_is_not_reminded(self, cast, traveller):
        withdrawn = cast.submission(State.EVALUATION)
        move(withdrawn, "withdraw", cast.developer)
        elapsed = cast.submission(State.EVALUATION)
        deadline = clock_of(elapsed).deadline_at
        for offset in (7 * DAY, 3 * DAY, DAY, dt.timedelta(0), -DAY):
            sweep_at(traveller, deadline - offset)
        assert told(withdrawn) == []
        assert clock_of(withdrawn).next_reminder_at is None
        # Elapsed at the deadline: the steps before it were sent, nothing after.
        assert len(told(elapsed)) == 4

    def test_the_sweeps_query_reads_reminders_from_its_partial_index(self, cast, traveller):
        sql, _ = review_clock._due_items_queryset(START).query.sql_with_params()
        assert "'reminder'" in sql or "reminder" in str(sql)
        if connection.vendor != "postgresql":
            pytest.skip("the plan is PostgreSQL's")
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            cursor.execute(
                "EXPLAIN SELECT id FROM submissions_reviewclock WHERE status = 'running' AND next_reminder_at <= %s",
                [START],
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "clock_running_next_reminder" in plan


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_at_once_send_each_reminder_once(cast):
    """Two sweeps on their own database connections, started together at each step's moment:
    the compare-and-set on next_reminder_at lets one of them send."""
    with time_machine.travel(START, tick=False) as traveller:
        subs = [cast.submission(State.EVALUATION) for _ in range(3)]
        for offset in (7 * DAY, 3 * DAY, DAY):
            traveller.move_to(max(clock_of(s).deadline_at for s in subs) - offset)
            barrier = threading.Barrier(2)
            errors = []

            def run(barrier=barrier, errors=errors):
                try:
                    barrier.wait(10)
                    review_clock.act_on_due_items(review_clock.clock.now())
                except Exception as exc:  # pragma: no cover - reported below
                    errors.append(exc)
                finally:
                    connection.close()

            threads = [threading.Thread(target=run) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert errors == []
        for s in subs:
            assert told(s) == EXPECTED_STEPS
            assert ResultsReminder.objects.filter(submission=s).count() == 4


# --- the Remind button ---------------------------------------------------------------------------


def remind_url(assignment):
    return reverse("reviews:remind", args=[assignment.submission_id, assignment.pk])


@pytest.fixture
def overdue(cast, traveller):
    """An evaluation 5 days from its deadline with one planned result missing."""
    s = cast.submission(State.EVALUATION)
    missing = leave_one_result_missing(s, cast.reviewer)
    traveller.move_to(clock_of(s).deadline_at - 5 * DAY)
    return s, s.assignments.get(reviewer=cast.reviewer), missing


@pytest.mark.django_db
class TestRemindButton:
    def test_the_lead_sees_what_the_button_will_do_and_to_whom(self, client, cast, overdue):
        s, assignment, _ = overdue
        client.force_login(cast.lead)
        page = client.get(reverse("submissions:detail", args=[s.pk])).content.decode()
        name = cast.reviewer.get_full_name() or cast.reviewer.username
        deadline_day = clock_of(s).deadline_at
        assert (
            f"Email {name} a reminder: 1 planned result missing, review due "
            f"{deadline_day.day} {deadline_day:%b} {deadline_day.year}"
        ) in page
        # Not offered to the lead about themselves, nor to a reviewer.
        assert remind_url(s.assignments.get(reviewer=cast.lead)) not in page
        client.force_login(cast.reviewer)
        assert remind_url(assignment) not in client.get(reverse("submissions:detail", args=[s.pk])).content.decode()

    def test_pressing_emails_the_reviewer_and_enters_the_timeline(self, client, cast, overdue):
        s, assignment, missing = overdue
        client.force_login(cast.lead)
        response = client.post(remind_url(assignment), follow=True)
        assert response.status_code == 200
        assert f"Reminder emailed to {cast.reviewer}: 1 planned result missing: {missing}." in response.content.decode()
        event = Event.objects.get(submission=s, type=reminders.REMINDER_EVENT)
        assert list(event.deliveries.values_list("recipient__username", flat=True)) == ["reviewer"]
        assert event.payload["reminder_step"] == "manual" and missing in event.payload["next_action"]
        entry = AuditEntry.objects.get(submission=s, action="results_reminder")
        assert entry.internal and entry.actor == cast.lead and missing in entry.comment
        assert entry.comment.startswith(
            f"Reminder sent to {cast.reviewer} (by email, or in their digest): 1 planned result missing"
        )

    def test_pressing_says_when_a_digest_reader_will_get_it(self, client, cast, overdue):
        """5 days from the deadline a daily digest still arrives with more than 48 hours to go:
        the reminder is held for it, and the button's answer says so instead of "emailed"."""
        from accounts.models import DigestCadence, NotificationPreference

        _, assignment, missing = overdue
        NotificationPreference.objects.create(user=cast.reviewer, cadence=DigestCadence.DAILY, digest_hour=8)
        client.force_login(cast.lead)
        page = client.post(remind_url(assignment), follow=True).content.decode()
        assert f"Reminder recorded for {cast.reviewer}: 1 planned result missing: {missing}." in page
        assert "They chose a digest, so it reaches them in the one due" in page
        assert "Reminder emailed" not in page

    def test_a_second_press_soon_after_is_refused_and_sends_nothing(self, client, cast, overdue, traveller):
        s, assignment, _ = overdue
        client.force_login(cast.admin)
        client.post(remind_url(assignment))
        traveller.shift(dt.timedelta(minutes=10))
        response = client.post(remind_url(assignment), follow=True)
        assert f"{cast.reviewer} was reminded 10 minutes ago." in response.content.decode()
        assert Event.objects.filter(submission=s, type=reminders.REMINDER_EVENT).count() == 1
        # After the gap a reminder may be sent again.
        traveller.shift(reminders.MANUAL_REMIND_GAP)
        client.post(remind_url(assignment))
        assert Event.objects.filter(submission=s, type=reminders.REMINDER_EVENT).count() == 2

    def test_nothing_overdue_is_refused_with_a_reason(self, client, cast, traveller):
        s = cast.submission(State.EVALUATION)
        assignment = s.assignments.get(reviewer=cast.reviewer)
        client.force_login(cast.lead)
        response = client.post(remind_url(assignment), follow=True)
        assert "Nothing to remind about" in response.content.decode()
        assert not Event.objects.filter(submission=s, type=reminders.REMINDER_EVENT).exists()

    @pytest.mark.parametrize(
        "who, status",
        [
            ("lead", 302),
            ("admin", 302),
            ("reviewer", 403),
            ("low_reviewer", 403),
            ("developer", 403),
            ("other_developer", 404),
            ("partner", 404),
        ],
    )
    def test_who_may_press_it_is_the_rule(self, client, cast, overdue, who, status):
        from accounts import rules

        s, assignment, _ = overdue
        user = getattr(cast, who)
        assert rules.may_remind_reviewer(user, assignment) == (status == 302)
        client.force_login(user)
        assert client.post(remind_url(assignment)).status_code == status
        sent = Event.objects.filter(submission=s, type=reminders.REMINDER_EVENT).exists()
        assert sent == (status == 302)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_presses_at_once_send_one_reminder(cast):
    with time_machine.travel(START, tick=False) as traveller:
        s = cast.submission(State.EVALUATION)
        leave_one_result_missing(s, cast.reviewer)
        traveller.move_to(clock_of(s).deadline_at - 2 * DAY)
        assignment = s.assignments.get(reviewer=cast.reviewer)
        barrier, outcomes = threading.Barrier(2), []

        def press(actor):
            try:
                barrier.wait(10)
                reminders.reviewer_remind(assignment=assignment, actor=actor)
                outcomes.append("sent")
            except Exception as exc:
                outcomes.append(type(exc).__name__)
            finally:
                connection.close()

        threads = [threading.Thread(target=press, args=(a,)) for a in (cast.lead, cast.admin)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["ValidationFailed", "sent"]
        assert ResultsReminder.objects.filter(submission=s, step="manual").count() == 1


# --- a real worker -------------------------------------------------------------------------------


def wait_for(predicate, timeout=30.0):
    """Wait for the worker (another thread, its own connection) to finish; time does not move."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def queue_drained():
    """No sweep or delivery task waiting or in flight on this run's queue (acks_late keeps a
    task in the unacked hash until it has finished)."""
    import redis

    from tests.conftest import TEST_BROKER_URL, TEST_QUEUE

    r = redis.Redis.from_url(TEST_BROKER_URL)
    return r.llen(TEST_QUEUE) == 0 and r.hlen("unacked") == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_sends_every_step_once_through_overlapping_sweeps(cast):
    """Beat's sweep task queued three times at each step's moment, while a sweep runs here at the
    same time: each person is emailed once per step, and the emails are delivered."""
    from celery.contrib.testing.worker import start_worker
    from django.db import connections

    from caisi_portal.celery import app as celery_app
    from submissions.tasks import sweep_review_clocks

    with time_machine.travel(START, tick=False) as traveller:
        subs = [cast.submission(State.EVALUATION) for _ in range(2)]
        deadline = clock_of(subs[0]).deadline_at
        try:
            with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
                for offset in (7 * DAY, 3 * DAY, DAY):
                    traveller.move_to(deadline - offset)
                    for _ in range(3):
                        sweep_review_clocks.delay()
                    review_clock.sweep()
                    assert wait_for(queue_drained)
                assert wait_for(
                    lambda: (
                        not Delivery.objects.filter(
                            event__type__in=[reminders.REMINDER_EVENT, reminders.ESCALATION_EVENT]
                        )
                        .exclude(status="delivered")
                        .exists()
                    )
                )
        finally:
            connections.close_all()
        for s in subs:
            assert told(s) == EXPECTED_STEPS
            assert ResultsReminder.objects.filter(submission=s).count() == 4


@pytest.mark.django_db
def test_administrators_change_the_offsets_on_the_sla_policy_page_and_the_change_is_audited(cast, client):
    policy = SlaPolicy.current()
    from django.contrib.auth import get_user_model

    # The SLA policy page is the Django admin's, reached by the office's superusers (as in
    # tests/test_assessment_findings.py); every save there goes through configuration_save.
    root = get_user_model().objects.create_superuser("root", "root@example.test", "pw-for-root-only")
    client.force_login(root)
    url = reverse("admin:submissions_slapolicy_change", args=[policy.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Remind reviewers of missing planned results" in page.content.decode()
    form = page.context["adminform"].form
    data = {name: (form.initial.get(name) if form.initial.get(name) is not None else "") for name in form.fields}
    data.update(reminder_days=5, escalate_lead_days=2)
    assert client.post(url, data).status_code == 302
    policy.refresh_from_db()
    assert policy.reminder_steps() == [("reviewer", 5), ("lead", 2), ("administrator", 1)]
    entry = AuditEntry.objects.filter(submission__isnull=True, action="configuration_changed").latest("pk")
    assert entry.actor == root
    assert "reminder days: 7 → 5" in entry.comment and "escalate lead days: 3 → 2" in entry.comment
