"""Pages keep a constant number of queries as data grows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from submissions.models import State
from tests.factories import serious_finding

pytestmark = pytest.mark.django_db


def queries_for(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["admin", "developer", "lead"])
def test_home_does_not_grow_with_submissions(cast, client, who, django_assert_max_num_queries):
    # One of each kind of row first, so every list on the page (and "Waiting on you") has rows.
    for state in (State.INTAKE, State.EVALUATION, State.CLEARED, State.DRAFT):
        cast.submission(state)
    client.force_login(getattr(cast, who))
    baseline = queries_for(client, reverse("home"))
    for state in (State.INTAKE, State.EVALUATION, State.CLEARED, State.DRAFT) * 2:  # within one page of rows
        cast.submission(state)
    # Session, user, groups, and one query per section.
    with django_assert_max_num_queries(baseline):
        client.get(reverse("home"))


@pytest.mark.parametrize("who", ["admin", "lead", "developer"])
def test_submission_page_does_not_grow_with_findings_and_timeline(cast, client, who, django_assert_max_num_queries):
    s = cast.submission(State.EVALUATION)
    serious_finding(s, cast.reviewer)  # the flag guard looks further once a finding exists
    client.force_login(getattr(cast, who))
    baseline = queries_for(client, s.get_absolute_url())
    for _ in range(10):
        serious_finding(s, cast.reviewer)
    with django_assert_max_num_queries(baseline):
        client.get(s.get_absolute_url())


@pytest.mark.parametrize("who", ["admin", "developer", "lead"])
def test_home_shows_the_newest_rows_and_links_to_the_rest(cast, client, who, django_assert_max_num_queries):
    from submissions.selectors import HOME_ROWS

    for state in (State.EVALUATION, State.EVALUATION, State.INTAKE):
        cast.submission(state)
    client.force_login(getattr(cast, who))
    baseline = queries_for(client, reverse("home"))
    for _ in range(HOME_ROWS + 2):
        cast.submission(State.INTAKE)
    # Past a page of rows, each full section adds its one count query, however long it grows.
    with django_assert_max_num_queries(baseline + 4):
        page = client.get(reverse("home")).content.decode()
    assert page.count('href="/submissions/') <= HOME_ROWS * 4
    assert "/submissions/?section=" in page


def test_the_list_page_pages_and_searches(cast, client, django_assert_max_num_queries):
    for n in range(55):
        cast.submission(State.INTAKE, model_name=f"Bulk-{n}")
    cast.submission(State.INTAKE, model_name="Needle")
    client.force_login(cast.developer)
    with django_assert_max_num_queries(12):
        first = client.get(reverse("submissions:list") + "?section=organization")
    assert first.status_code == 200 and "Page 1 of 2" in first.content.decode()
    found = client.get(reverse("submissions:list") + "?section=organization&q=needle").content.decode()
    assert "Needle" in found and "Bulk-1 " not in found
    assert client.get(reverse("submissions:list") + "?section=open").status_code == 404


def test_the_exports_page_does_not_grow_with_exports(cast, client, django_assert_max_num_queries):
    from dashboard import services

    client.force_login(cast.admin)
    services.export_start(actor=cast.admin, kind="submissions", params={"organization": cast.lab.pk})
    baseline = queries_for(client, reverse("dashboard:reports"))
    for _ in range(12):
        services.export_start(actor=cast.admin, kind="breaches", params={"organization": cast.lab.pk})
    with django_assert_max_num_queries(baseline):
        page = client.get(reverse("dashboard:reports")).content.decode()
    assert page.count("Organization: Lab Alpha") == 10  # the ten most recent
