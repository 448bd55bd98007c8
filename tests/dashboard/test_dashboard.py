"""The administrators' dashboard, breach list, exports, calendar feed and public register."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from icalendar import Calendar

from accounts.services import calendar_token_issue, calendar_token_revoke
from bench.portfolio import build_portfolio
from submissions import review_clock
from submissions.models import SlaBreach, SlaKind, State
from submissions.services import submission_set_published
from tests.dashboard.moments import NOW
from tests.factories import clear_against_evidence, move, record_all_results, serious_finding

pytestmark = pytest.mark.django_db


DAY = dt.timedelta(days=1)

ADMIN_PAGES = [
    "dashboard:index",
    "dashboard:breaches",
    "dashboard:reports",
    "dashboard:export_submissions",
    "dashboard:export_breaches",
    "dashboard:export_determinations",
]


@pytest.mark.parametrize("url_name", ADMIN_PAGES)
@pytest.mark.parametrize("who", ["developer", "lead", "reviewer", "partner", "trainee"])
def test_only_administrators(cast, client, url_name, who):
    client.force_login(getattr(cast, who))
    assert client.get(reverse(url_name)).status_code == 404


@pytest.mark.parametrize("url_name", ADMIN_PAGES)
def test_anonymous_goes_to_login(client, url_name):
    assert client.get(reverse(url_name)).status_code == 302


def test_headline_figures(cast, client, traveller):
    traveller.move_to(NOW - 25 * DAY)
    at_risk = cast.submission(State.EVALUATION)  # 5 days left at NOW
    traveller.move_to(NOW - 10 * DAY)
    cast.submission(State.EVALUATION)  # 20 days left: not at risk
    paused = cast.submission(State.INFORMATION_REQUESTED)
    late = cast.submission(State.INTAKE)  # intake decision due 3 days later: breached
    done = cast.submission(State.EVALUATION)
    record_all_results(done, cast.reviewer)
    traveller.move_to(NOW - 2 * DAY)
    move(done, "clear", cast.lead)  # 8 days to determination
    traveller.move_to(NOW)
    review_clock.sweep()
    client.force_login(cast.admin)
    response = client.get(reverse("dashboard:index"))
    h = response.context["headline"]
    assert h["open_total"] == 4 and dict(h["open_by_state"]) == {
        "Intake": 1,
        "Information requested": 1,
        "Evaluation": 2,
    }
    assert h["at_risk"] == 1 and h["paused"] == 1
    assert h["breaches_open"] == SlaBreach.objects.count() >= 1
    assert h["determined_this_month"] == 1 and response.context["charts"]["median_days"] == 8.0
    page = response.content.decode()
    assert str(at_risk) in page and str(paused) in page and "Lab Holdout" in page and "holdout" in page
    assert late.sla_breaches.filter(kind=SlaKind.INTAKE_DECISION).exists()
    # The charts' figures are in tables too, for readers without JavaScript.
    assert "Submissions and outcomes per month" in page and '<th scope="row" data-label="Month">Sep 2026</th>' in page
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in page


def test_reviewer_workload(cast, client, traveller):
    cast.submission(State.EVALUATION)
    cast.submission(State.EVALUATION)
    client.force_login(cast.admin)
    rows = client.get(reverse("dashboard:index")).context["workload"]
    workload = {r["name"]: r["open"] for r in rows}
    assert workload[str(cast.lead)] == 2 and workload[str(cast.reviewer)] == 2
    assert workload[str(cast.unassigned_reviewer)] == 0


class TestBreaches:
    @pytest.fixture
    def breaches(self, cast, traveller):
        traveller.move_to(NOW - 20 * DAY)
        a = cast.submission(State.INTAKE, model_name="Intake-Late")
        b = cast.submission(State.INFORMATION_REQUESTED, model_name="Answer-Late")
        traveller.move_to(NOW)
        review_clock.sweep()
        return a, b

    def test_filter_by_kind_and_acknowledged(self, cast, client, breaches):
        client.force_login(cast.admin)
        page = client.get(reverse("dashboard:breaches"), {"kind": SlaKind.DEVELOPER_ANSWER}).content.decode()
        assert "Answer-Late" in page and "Intake-Late" not in page
        page = client.get(reverse("dashboard:breaches"), {"acknowledged": "true"}).content.decode()
        assert "No breach matches" in page

    def test_acknowledge_with_a_note_on_the_page(self, cast, client, breaches):
        client.force_login(cast.admin)
        breach = SlaBreach.objects.get(kind=SlaKind.INTAKE_DECISION)
        response = client.post(
            reverse("dashboard:breach_ack", args=[breach.pk]), {"note": "Staff shortage."}, follow=True
        )
        assert "Breach on Intake-Late 1.0 acknowledged." in response.content.decode()
        breach.refresh_from_db()
        assert breach.acknowledged_by == cast.admin and breach.acknowledgement_note == "Staff shortage."
        assert breach.submission.audit_entries.filter(action="breach_acknowledged").exists()
        page = client.get(reverse("dashboard:breaches"), {"acknowledged": "false"}).content.decode()
        assert "Intake-Late" not in page and "Answer-Late" in page

    def test_acknowledging_without_a_note_is_refused(self, cast, client, breaches):
        client.force_login(cast.admin)
        breach = SlaBreach.objects.first()
        response = client.post(reverse("dashboard:breach_ack", args=[breach.pk]), {"note": ""}, follow=True)
        assert "Say why the breach is acknowledged." in response.content.decode()
        breach.refresh_from_db()
        assert breach.acknowledged_at is None

    def test_csv_export_keeps_the_filters(self, cast, client, breaches):
        client.force_login(cast.admin)
        response = client.get(reverse("dashboard:export_breaches"), {"kind": SlaKind.INTAKE_DECISION})
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert rows[0][:5] == ["id", "organization", "model", "version", "kind"]
        assert [r[2] for r in rows[1:]] == ["Intake-Late"]


def test_submissions_csv_neutralises_formulas(cast, client):
    cast.submission(State.INTAKE, model_name='=HYPERLINK("http://evil")')
    client.force_login(cast.admin)
    response = client.get(reverse("dashboard:export_submissions"), {"state": "intake"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][2].startswith("'=HYPERLINK")


def test_determinations_csv(cast, client):
    s = cast.submission(State.CLEARED)
    client.force_login(cast.admin)
    response = client.get(reverse("dashboard:export_determinations"), {"outcome": "cleared"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2 and rows[1][2] == s.model_name and rows[1][4] == "Cleared"


class TestCalendar:
    def test_reviewer_subscribes_to_their_deadlines(self, cast, client):
        mine = cast.submission(State.EVALUATION)
        other = cast.submission(State.INTAKE)  # not assigned to the reviewer
        token = calendar_token_issue(user=cast.reviewer)
        response = client.get(reverse("dashboard:calendar", args=[token]))
        assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
        cal = Calendar.from_ical(response.content)
        events = [e for e in cal.walk("VEVENT")]
        assert [str(e["uid"]) for e in events] == [f"review-deadline-{mine.pk}@caisi-review-portal"]
        assert events[0].decoded("dtstart") == mine.review_clock.deadline_at.replace(microsecond=0)
        assert str(other) not in response.content.decode()

    def test_revoked_or_replaced_link_stops_working(self, cast, client):
        first = calendar_token_issue(user=cast.reviewer)
        second = calendar_token_issue(user=cast.reviewer)
        assert client.get(reverse("dashboard:calendar", args=[first])).status_code == 404
        assert client.get(reverse("dashboard:calendar", args=[second])).status_code == 200
        calendar_token_revoke(user=cast.reviewer)
        assert client.get(reverse("dashboard:calendar", args=[second])).status_code == 404

    def test_profile_page_shows_the_link_once(self, cast, client):
        client.force_login(cast.reviewer)
        page = client.post(reverse("profile"), {"action": "calendar_issue"}).content.decode()
        assert "/dashboard/calendar/" in page and "shown once" in page
        page = client.get(reverse("profile")).content.decode()
        assert "/dashboard/calendar/" not in page and "You have a calendar link" in page


class TestRegister:
    SECRETS = [
        "DRAFT-MODEL-NAME",
        "EVALUATION-MODEL-NAME",
        "SECRET-CAPABILITIES",
        "INTERNAL-RATIONALE",
        "PARTNER-ONLY-SUMMARY",
        "Exploit generation",
        "reviewer",
        "Lab Alpha submits",
    ]

    @pytest.fixture
    def published(self, cast):
        cast.submission(State.DRAFT, model_name="DRAFT-MODEL-NAME")
        cast.submission(State.EVALUATION, model_name="EVALUATION-MODEL-NAME")
        s = cast.submission(State.EVALUATION, model_name="Public-Model", capabilities="SECRET-CAPABILITIES")
        serious_finding(s, cast.reviewer)
        record_all_results(s, cast.reviewer)
        clear_against_evidence(
            s, cast.lead, cast.reviewer, rationale="INTERNAL-RATIONALE", partner_summary="PARTNER-ONLY-SUMMARY"
        )
        cleared_unpublished = cast.submission(State.CLEARED, model_name="Unpublished-Model")
        submission_set_published(submission=s, actor=cast.admin, published=True)
        return s, cleared_unpublished

    def test_page_and_feed_show_only_published_fields(self, client, published):
        page = client.get(reverse("register:page")).content.decode()
        feed = client.get(reverse("register:json")).json()
        assert "Public-Model" in page and "Unpublished-Model" not in page
        for secret in self.SECRETS:
            assert secret not in page, secret
            assert secret not in str(feed), secret
        # When the office listed it (feed readers sort by it): public by nature; JSON keeps milliseconds.
        listed = dt.datetime.fromisoformat(feed["reviews"][0].pop("listed_at"))
        assert abs(listed - published[0].published_at) < dt.timedelta(milliseconds=1)
        assert feed["reviews"] == [
            {
                "organization": "Lab Alpha",
                "model": "Public-Model",
                "version": "1.0",
                "release_channel": "API",
                "outcome": "Cleared",
                "date": published[0].determination.issued_at.date().isoformat(),
                # Filled once a government order is recorded (tests/submissions/test_after_the_window.py).
                "orders": [],
                "weights_publications": [],
            }
        ]
        statuses = {a["organization"]: a["status"] for a in feed["agreements"]}
        assert statuses["Lab Holdout"] == "negotiating" and statuses["Lab Alpha"] == "signed"

    def test_search(self, client, published):
        assert "Public-Model" in client.get(reverse("register:page"), {"q": "public"}).content.decode()
        assert client.get(reverse("register:json"), {"q": "nothing-like-it"}).json()["reviews"] == []

    def test_only_finished_reviews_can_be_published(self, cast):
        from caisi_portal.errors import NotPermitted, ValidationFailed

        s = cast.submission(State.EVALUATION)
        with pytest.raises(ValidationFailed, match="Only a review that has ended"):
            submission_set_published(submission=s, actor=cast.admin, published=True)
        done = cast.submission(State.CLEARED)
        with pytest.raises(NotPermitted):
            submission_set_published(submission=done, actor=cast.lead, published=True)

    def test_unpublishing_removes_it(self, cast, client, published):
        submission_set_published(submission=published[0], actor=cast.admin, published=False)
        assert "Public-Model" not in client.get(reverse("register:page")).content.decode()

    def test_elapsed_review_is_listed_as_such(self, cast, client):
        s = cast.submission(State.WINDOW_ELAPSED, model_name="Elapsed-Model")
        submission_set_published(submission=s, actor=cast.admin, published=True)
        feed = client.get(reverse("register:json")).json()
        assert feed["reviews"][0]["outcome"] == "Review window elapsed without a determination"


# Each page's budget, the same at 10 and at 1,000 submissions. Signed-in pages pay for
# the session, the user and the user's groups (3); then:
# - dashboard (22): the 12-month trends, cached for a minute and missed here: percentiles,
#   submitted, outcomes, breaches and medians per month, three workload counts and the
#   reviewers (9); then live: open by state, at risk, paused, open breaches, all breaches,
#   determined this month, the at-risk and paused lists, agreements (10);
# - breach list (7): the organizations for the filter, the count, the page of breaches,
#   the acknowledging administrators;
# - register (8, anonymous): the count, the page, determinations, elapsed windows and
#   government orders for the page's rows (their published weights only when a row has an
#   order), the agreements, the audit chain's published checkpoints, and the published models
#   one may follow ("Get notified").
# Signed-in pages include the session's verified authenticator (one query, django-otp).
BUDGETS = {
    ("dashboard:index", ""): 23,
    ("dashboard:breaches", ""): 8,
    ("dashboard:breaches", "kind=intake_decision&acknowledged=false"): 8,
    ("register:page", ""): 8,
    # Six of them name the register's version, for the ETag and Last-Modified of a conditional GET.
    ("register:json", ""): 13,
}


@pytest.mark.parametrize(("url_name", "params"), list(BUDGETS))
@pytest.mark.parametrize("size", [10, 1000])
def test_pages_keep_a_constant_number_of_queries(cast, client, url_name, params, size, django_assert_max_num_queries):
    from django.core.cache import cache

    build_portfolio(size, now=dt.datetime.now(dt.UTC))
    if url_name.startswith("dashboard"):
        client.force_login(cast.admin)
    cache.clear()
    with django_assert_max_num_queries(BUDGETS[(url_name, params)]):
        assert client.get(reverse(url_name) + "?" + params).status_code == 200


def test_next_after_acknowledging_stays_on_this_site(cast, client, traveller):
    traveller.move_to(NOW - 10 * DAY)
    cast.submission(State.INTAKE)
    traveller.move_to(NOW)
    review_clock.sweep()
    breach = SlaBreach.objects.get()
    client.force_login(cast.admin)
    url = reverse("dashboard:breach_ack", args=[breach.pk])
    response = client.post(url, {"note": "Seen.", "next": "https://evil.example/phish"})
    assert response.url == reverse("dashboard:breaches")
    breach2 = SlaBreach.objects.create(
        submission=breach.submission, kind=SlaKind.DEVELOPER_ANSWER, due_at=NOW, detected_at=NOW
    )
    response = client.post(
        reverse("dashboard:breach_ack", args=[breach2.pk]), {"note": "Seen.", "next": "/dashboard/breaches/?kind=x"}
    )
    assert response.url == "/dashboard/breaches/?kind=x"


def test_acknowledging_in_place_answers_with_the_row(cast, client):
    s = cast.submission(State.INTAKE)
    breach = SlaBreach.objects.create(
        submission=s, kind=SlaKind.INTAKE_DECISION, due_at=s.submitted_at, detected_at=s.submitted_at
    )
    client.force_login(cast.admin)
    url = reverse("dashboard:breach_ack", args=[breach.pk])
    row = client.post(url, {"note": "Backlog."}, HTTP_HX_REQUEST="true")
    assert row.status_code == 200 and row.content.decode().lstrip().startswith("<tr>")
    assert "Backlog." in row.content.decode() and "<form" not in row.content.decode()
    again = client.post(url, {"note": "Twice."}, HTTP_HX_REQUEST="true")
    assert again.status_code == 422 and 'role="alert"' in again.content.decode()
