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
    cast.submission(State.EVALUATION)
    client.force_login(getattr(cast, who))
    baseline = queries_for(client, reverse("home"))
    for state in (State.INTAKE, State.EVALUATION, State.CLEARED, State.DRAFT) * 3:
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
