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
