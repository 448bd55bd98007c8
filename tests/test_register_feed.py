"""The public register for downstream builders: an Atom feed that feed readers parse, and
conditional GET on the JSON and the feed (ETag, Last-Modified, 304). Only what the office
published ever appears."""

import feedparser
import pytest
from django.urls import reverse

from submissions.models import State
from submissions.services import submission_set_published

pytestmark = pytest.mark.django_db


def published(cast, name, state=State.CLEARED):
    s = cast.submission(state, model_name=name)
    return submission_set_published(submission=s, actor=cast.admin, published=True)


def test_the_feed_parses_and_lists_only_published_reviews(cast, client):
    listed = published(cast, "Open-Model")
    cast.submission(State.CLEARED, model_name="Quiet-Model")  # cleared, never published
    cast.submission(State.EVALUATION, model_name="Pending-Model")
    response = client.get(reverse("register:feed"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "CAISI Review Portal: published reviews"
    assert [e.title for e in feed.entries] == [f"{cast.lab.name} Open-Model 1.0: Cleared"]
    entry = feed.entries[0]
    assert entry.id.startswith("tag:testserver,2026:register/") and entry.link.endswith("?q=Open-Model")
    body = response.content.decode()
    assert "Quiet-Model" not in body and "Pending-Model" not in body
    # No internal id: its numbering would tell how many reviews were never published.
    assert f"/submissions/{listed.pk}/" not in body and f"review/{listed.pk}" not in body


@pytest.mark.parametrize("name", ["register:json", "register:feed"])
def test_a_poll_that_finds_nothing_new_is_answered_304(cast, client, name):
    published(cast, "First-Model")
    url = reverse(name)
    first = client.get(url)
    etag, modified = first["ETag"], first["Last-Modified"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(url, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    # Another page or search is another answer, with its own tag.
    assert client.get(url, {"q": "First"})["ETag"] != etag

    published(cast, "Second-Model")  # the office lists another review: the poll gets it
    fresh = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200 and "Second-Model" in fresh.content.decode()
    assert fresh["ETag"] != etag


def test_unpublishing_changes_the_answer_too(cast, client):
    s = published(cast, "Withdrawn-Listing")
    url = reverse("register:json")
    etag = client.get(url)["ETag"]
    submission_set_published(submission=s, actor=cast.admin, published=False)
    fresh = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200 and "Withdrawn-Listing" not in fresh.content.decode()


def test_the_office_s_other_work_does_not_move_the_version(cast, client):
    """Only what the register shows changes its tag: a configuration change elsewhere (here an
    audited entry about a partner) leaves pollers with a 304 and learning nothing."""
    from submissions.services import audit_record

    published(cast, "Steady-Model")
    url = reverse("register:json")
    etag, modified = client.get(url)["ETag"], client.get(url)["Last-Modified"]
    audit_record(submission=None, actor=cast.admin, action="configuration_changed", comment="Trusted partner X")
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(url)["Last-Modified"] == modified


def test_a_name_xml_cannot_carry_is_refused_and_an_old_one_does_not_break_the_feed(cast, client):
    from django.core.exceptions import ValidationError

    from submissions.models import ModelSubmission

    s = published(cast, "Feed-Model")
    s.model_name = "Feed\ufffeModel"
    with pytest.raises(ValidationError):
        s.full_clean(exclude=["state"])
    ModelSubmission.objects.filter(pk=s.pk).update(model_name="Old\uffffName & Co")  # stored before the rule
    response = client.get(reverse("register:feed"))
    feed = feedparser.parse(response.content)
    assert response.status_code == 200 and not feed.bozo
    assert feed.entries[0].title.startswith(f"{cast.lab.name} OldName & Co")
    assert feed.entries[0].link.endswith("?q=OldName+%26+Co")  # encoded, not cut at the &
