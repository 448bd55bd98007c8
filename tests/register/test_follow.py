"""Following the register: the webhook's challenge, hostile input, duplicates, rate limits,
tokens that work once and expire, and that only published live reviews ever produce a notice,
carrying the register's public fields and nothing else."""

import datetime as dt
import json
import re

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from partners import services as outbox
from partners.models import Delivery, Event
from register import messages, selectors, services, tokens
from register.models import Subscription
from submissions.models import State
from submissions.services import submission_set_published
from tests.factories import Cast

pytestmark = pytest.mark.django_db

FOLLOW = reverse("register:follow")


def ask(client, cast, address="builder@example.org", follow=None, **extra):
    data = {"follow": follow or cast.lab.slug, "channel": "email", "email": address, **extra}
    return client.post(FOLLOW, data)


def confirmations(address="builder@example.org"):
    return Delivery.objects.filter(subscription__address=address, event__isnull=True)


def confirm_link(subscription) -> str:
    subscription.refresh_from_db()
    return reverse("register:confirm", args=[tokens.confirm_token(subscription)])


def follower(cast, address="builder@example.org", model_name=""):
    """A confirmed email follower, made through the form and the link."""
    client = Client()
    follow = f"{cast.lab.slug}/{model_name}" if model_name else cast.lab.slug
    assert ask(client, cast, address, follow=follow).status_code == 200
    s = Subscription.objects.get(address=address, model_name=model_name)
    assert client.post(confirm_link(s)).status_code == 200
    s.refresh_from_db()
    assert s.status == Subscription.Status.ACTIVE
    return s


def publish(cast, name, state=State.CLEARED, version="1.0"):
    s = cast.submission(state, model_name=name, model_version=version)
    return submission_set_published(submission=s, actor=cast.admin, published=True)


# --- email: double opt-in, duplicates, rate limits, tokens ----------------------------------------


def test_asking_again_creates_no_duplicate_and_tells_nothing(cast, client):
    first = ask(client, cast)
    again = ask(client, cast)
    s = Subscription.objects.get()
    client.post(confirm_link(s))
    confirmed = ask(client, cast)
    # The same page whether new, waiting or confirmed: the form tells nobody who follows what.
    assert first.content == again.content == confirmed.content
    assert Subscription.objects.count() == 1
    # Two confirmations (each with a new link); none once confirmed.
    assert confirmations().count() == 2
    assert Subscription.objects.get().status == Subscription.Status.ACTIVE


def test_nothing_but_the_confirmation_is_sent_before_it_is_confirmed(cast, client):
    ask(client, cast)
    publish(cast, "Quiet-Until-Confirmed")
    assert Delivery.objects.filter(subscription__isnull=False, event__isnull=False).count() == 0


def test_the_confirmation_link_works_once_and_expires(cast, client):
    ask(client, cast)
    s = Subscription.objects.get()
    link = confirm_link(s)
    assert client.get(link).status_code == 200 and Subscription.objects.get().status == "pending"  # GET changes nothing
    with time_machine.travel(timezone.now() + services.CONFIRM_FOR + dt.timedelta(minutes=1)):
        late = client.post(link)
        assert late.status_code == 400 and "expired" in late.content.decode()
    assert client.post(link).status_code == 200
    assert Subscription.objects.get().status == "active"
    used = client.post(link)  # a second use changes nothing and says so
    assert used.status_code == 200 and "already confirmed" in used.content.decode()


def test_a_newer_link_replaces_the_older_one_and_forged_links_are_not_found(cast, client):
    ask(client, cast)
    old = confirm_link(Subscription.objects.get())
    ask(client, cast)
    new = confirm_link(Subscription.objects.get())
    assert old != new
    assert client.post(old).status_code == 400
    assert Subscription.objects.get().status == "pending"
    assert client.post(new).status_code == 200
    forged = new.replace(new.rsplit(":", 1)[1].rstrip("/"), "A" * 43)
    assert client.get(forged).status_code == 404
    assert client.get(reverse("register:stop", args=["nothing:here"])).status_code == 404


def test_an_address_gets_at_most_a_few_confirmations_a_day(cast, client):
    for _ in range(services.PER_ADDRESS[0] + 3):
        assert ask(client, cast, "victim@example.org").status_code == 200
    assert confirmations("victim@example.org").count() == services.PER_ADDRESS[0]


def test_one_client_cannot_flood_the_form(cast, client):
    for i in range(services.PER_CLIENT[0]):
        assert ask(client, cast, f"person{i}@example.org").status_code == 200
    refused = ask(client, cast, "one-more@example.org")
    assert refused.status_code == 429 and services.MSG_THROTTLED in refused.content.decode()
    assert not Subscription.objects.filter(address="one-more@example.org").exists()


@pytest.mark.parametrize(
    "address",
    [
        "builder@example.org\r\nBcc: everyone@example.org",
        "builder@example.org\nSubject: free",
        "build\x00er@example.org",
        "builder\u202e@example.org",
        "not an address",
        "",
        "a" * 300 + "@example.org",
    ],
)
def test_hostile_addresses_are_refused(cast, client, address):
    response = ask(client, cast, address)
    assert response.status_code == 400
    assert Subscription.objects.count() == 0 and Delivery.objects.count() == 0


def test_huge_and_unknown_choices_are_refused(cast, client):
    assert ask(client, cast, follow="x" * 100_000).status_code == 400
    assert ask(client, cast, follow=f"{cast.lab.slug}/Never-Published").status_code == 400
    assert client.post(FOLLOW, {"follow": cast.lab.slug, "channel": "carrier-pigeon"}).status_code == 400
    assert Subscription.objects.count() == 0


def test_the_follow_form_needs_its_csrf_token(cast):
    browser = Client(enforce_csrf_checks=True)
    assert ask(browser, cast).status_code == 403
    assert Subscription.objects.count() == 0


def test_only_what_the_register_lists_can_be_followed(cast):
    from exercises import scenarios
    from exercises import services as exercise_services
    from tests.factories import UserFactory

    controller = UserFactory(username="controller", role="exercise_controller", organization=cast.office)
    ex = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
    played = Cast(exercise=ex, mark="XR")
    publish(cast, "Listed-Model")
    offered = {d["slug"]: d["models"] for d in selectors.followable()}
    assert offered[cast.lab.slug] == ["Listed-Model"]
    assert played.lab.slug not in offered and cast.partner_org.slug not in offered
    with pytest.raises(services.ValidationFailed):
        services.follow_target(played.lab.slug)


# --- unsubscribe ---------------------------------------------------------------------------------


def test_opening_the_stop_link_asks_first_and_the_button_stops(cast):
    s = follower(cast)
    stop = reverse("register:stop", args=[tokens.stop_token(s)])
    page = Client().get(stop)
    assert page.status_code == 200 and "Unsubscribe" in page.content.decode()
    assert Subscription.objects.get().status == "active"
    assert Client(enforce_csrf_checks=True).post(stop).status_code == 200
    assert Subscription.objects.get().status == "ended"
    assert Client().post(stop).status_code == 200  # twice is harmless
    publish(cast, "After-Stop")
    assert not Delivery.objects.filter(subscription=s, event__isnull=False).exists()


def test_a_stop_link_of_an_ended_subscription_cannot_end_the_next_one(cast):
    """Following again after unsubscribing: the old stop link (a forwarded message, say) no
    longer answers; the new confirmation carries the new one, with the one-click headers."""
    s = follower(cast)
    old_stop = reverse("register:stop", args=[tokens.stop_token(s)])
    assert Client().post(old_stop).status_code == 200
    again = follower(cast)
    assert again.pk == s.pk and again.status == Subscription.Status.ACTIVE
    assert Client().get(old_stop).status_code == 404
    assert Client().post(old_stop).status_code == 404
    assert Subscription.objects.get().status == Subscription.Status.ACTIVE
    confirmations = Delivery.objects.filter(subscription=again, event__isnull=True)
    _subject, body, headers = messages.email_for(confirmations.order_by("next_attempt_at", "pk").last())
    assert headers["List-Unsubscribe"] == f"<{messages.stop_url(again)}>"
    assert messages.stop_url(again) in body and old_stop not in body


def test_a_forged_or_truncated_stop_link_is_not_found(cast):
    s = follower(cast)
    token = tokens.stop_token(s)
    for bad in (token[:-2], s.pk.hex, f"{token}x", "a" * 300):
        assert Client().post(reverse("register:stop", args=[bad])).status_code == 404
    assert Subscription.objects.get().status == Subscription.Status.ACTIVE


def test_stopping_drops_notices_still_waiting(cast):
    s = follower(cast)
    publish(cast, "Waiting-Notice")
    waiting = Delivery.objects.get(subscription=s, event__isnull=False)
    services.subscription_stop(subscription=s)
    waiting.refresh_from_db()
    assert waiting.status == Delivery.Status.DEAD
    assert outbox.delivery_attempt(waiting.pk) == "not_due"


# --- what goes out ----------------------------------------------------------------------------


def test_a_notice_carries_the_registers_public_fields_and_nothing_else(cast):
    s = follower(cast)
    listed = publish(cast, "Open-Model")
    event = Event.objects.get(type=messages.LISTED)
    row = selectors.public_rows([listed])[0]
    assert event.payload == {**row, "listed_at": row["listed_at"].isoformat()}
    # The register's row (its government orders and published weights included: public facts).
    assert set(event.payload) == {
        *("organization", "model", "version", "release_channel", "outcome", "date", "listed_at"),
        *("orders", "weights_publications"),
    }
    delivery = Delivery.objects.get(subscription=s, event=event)
    _subject, body, headers = messages.email_for(delivery)
    from reviews.models import Determination

    determination = Determination.objects.get(submission=listed, issued_at__isnull=False)
    for private in (determination.partner_summary, determination.rationale, f"/submissions/{listed.pk}/"):
        assert private not in body
    assert headers["List-Unsubscribe"] == f"<{messages.stop_url(s)}>"
    assert f"follows every model of {cast.lab.name}" in body and messages.stop_url(s) in body


def test_unpublished_reviews_produce_no_notice_and_a_withdrawal_is_told(cast):
    follower(cast)
    cast.submission(State.CLEARED, model_name="Never-Listed")  # determined, never published
    cast.submission(State.EVALUATION, model_name="Under-Review")
    assert not Delivery.objects.filter(subscription__isnull=False, event__isnull=False).exists()
    listed = publish(cast, "Listed")
    submission_set_published(submission=listed, actor=cast.admin, published=False)
    types = list(
        Delivery.objects.filter(subscription__isnull=False, event__isnull=False)
        .order_by("event__occurred_at", "event__type")
        .values_list("event__type", flat=True)
    )
    assert sorted(types) == [messages.LISTED, messages.WITHDRAWN]
    withdrawn = Event.objects.get(type=messages.WITHDRAWN)
    assert withdrawn.payload == {"organization": cast.lab.name, "model": "Listed", "version": "1.0"}


def test_exercise_reviews_never_reach_a_follower(cast):
    from exercises import scenarios
    from exercises import services as exercise_services
    from tests.factories import UserFactory

    controller = UserFactory(username="controller", role="exercise_controller", organization=cast.office)
    ex = exercise_services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
    played = Cast(exercise=ex, mark="XR")
    # Even a row pointing at the exercise's developer (the form would refuse it) hears nothing.
    Subscription.objects.create(
        channel="email",
        address="x@example.org",
        organization=played.lab,
        status="active",
        created_at=timezone.now(),
    )
    s = played.submission(State.CLEARED, model_name="Played-Model")
    assert services.followers_notify(submission=s, listed=True) == 0
    with pytest.raises(Exception, match="never exercise data"):
        submission_set_published(submission=s, actor=played.admin, published=True)
    assert not Delivery.objects.filter(subscription__isnull=False).exists()


def test_a_model_follower_hears_of_its_model_only_and_an_address_is_told_once(cast):
    publish(cast, "Beacon")
    by_model = follower(cast, "model@example.org", model_name="Beacon")
    follower(cast, "both@example.org", model_name="Beacon")
    follower(cast, "both@example.org")
    publish(cast, "Other")
    assert not Delivery.objects.filter(subscription=by_model, event__isnull=False).exists()
    publish(cast, "Beacon", state=State.FLAGGED, version="2.0")
    told = Delivery.objects.filter(event__type=messages.LISTED, event__submission__model_name="Beacon")
    # The first Beacon was published before anyone followed; the second reaches each address once.
    assert sorted(told.values_list("address", flat=True)) == ["both@example.org", "model@example.org"]


def test_telling_thousands_costs_the_same_queries_as_telling_a_few(cast):
    def publish_counting(name):
        s = cast.submission(State.CLEARED, model_name=name)
        with CaptureQueriesContext(connection) as queries:
            submission_set_published(submission=s, actor=cast.admin, published=True)
        return len(queries)

    now = timezone.now()
    Subscription.objects.bulk_create(
        Subscription(
            channel="email", address=f"f{i}@example.org", organization=cast.lab, status="active", created_at=now
        )
        for i in range(3)
    )
    few = publish_counting("Few")
    Subscription.objects.bulk_create(
        Subscription(
            channel="email", address=f"g{i}@example.org", organization=cast.lab, status="active", created_at=now
        )
        for i in range(2000)
    )
    many = publish_counting("Many")
    assert many == few
    assert Delivery.objects.filter(event__submission__model_name="Many", subscription__isnull=False).count() == 2003


# --- webhooks --------------------------------------------------------------------------------


def register_webhook(client, cast, url):
    return client.post(FOLLOW, {"follow": cast.lab.slug, "channel": "webhook", "url": url})


def secret_on(page) -> str:
    return re.search(r"whsec_[A-Za-z0-9+/=]+", page.content.decode()).group(0)


def verify(client, s):
    return client.post(reverse("register:webhook_verify", args=[tokens.stop_token(s)]))


def echoing(secret):
    """An endpoint that checks the signature and echoes the challenge, as a careful receiver would."""

    def handler(request):
        payload = Webhook(secret).verify(request.get_data(as_text=True), dict(request.headers))
        return Response(payload["data"]["challenge"], status=200)

    return handler


def test_an_endpoint_that_echoes_is_verified_and_receives_signed_notices(cast, client, httpserver):
    page = register_webhook(client, cast, httpserver.url_for("/hooks/register"))
    assert page.status_code == 200 and "only time it is shown" in page.content.decode()
    secret = secret_on(page)
    s = Subscription.objects.get()
    assert s.status == "pending" and s.secret == secret
    assert secret not in client.get(reverse("register:stop", args=[tokens.stop_token(s)])).content.decode()

    publish(cast, "Before-Verified")  # not verified yet: nothing for it
    assert not Delivery.objects.filter(subscription=s).exists()

    httpserver.expect_ordered_request("/hooks/register", method="POST").respond_with_handler(echoing(secret))
    result = verify(client, s)
    assert result.status_code == 200 and "Verified" in result.content.decode()
    s.refresh_from_db()
    assert s.status == "active"

    httpserver.expect_ordered_request("/hooks/register", method="POST").respond_with_data("ok")
    listed = publish(cast, "After-Verified")
    delivery = Delivery.objects.get(subscription=s)
    assert outbox.delivery_attempt(delivery.pk) == "delivered"
    request, _ = httpserver.log[-1]
    payload = Webhook(secret).verify(request.get_data(as_text=True), dict(request.headers))
    row = selectors.public_rows([listed])[0]
    assert payload["type"] == messages.LISTED
    assert payload["data"] == {**row, "listed_at": row["listed_at"].isoformat()}
    assert request.headers["webhook-id"] == delivery.webhook_id


def test_an_endpoint_that_does_not_echo_is_not_verified(cast, client, httpserver):
    register_webhook(client, cast, httpserver.url_for("/hooks/lazy"))
    s = Subscription.objects.get()
    httpserver.expect_request("/hooks/lazy", method="POST").respond_with_data("ok")
    result = verify(client, s)
    assert result.status_code == 400 and "did not hold the challenge" in result.content.decode()
    httpserver.clear()
    httpserver.expect_request("/hooks/lazy", method="POST").respond_with_data("no", status=500)
    assert "answered HTTP 500" in verify(client, s).content.decode()
    s.refresh_from_db()
    assert s.status == "pending"
    publish(cast, "Not-For-Lazy")
    assert not Delivery.objects.filter(subscription=s).exists()


def test_an_unreachable_endpoint_fails_cleanly(cast, client):
    register_webhook(client, cast, "http://127.0.0.1:9/hooks/none")
    result = verify(client, Subscription.objects.get())
    assert result.status_code == 400 and "did not answer" in result.content.decode()


def test_a_private_address_is_refused(cast, client, settings):
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = []
    for url in ("https://127.0.0.1/hooks", "https://169.254.169.254/latest/meta-data", "https://[::1]/x", "ftp://a.b/"):
        response = register_webhook(client, cast, url)
        assert response.status_code == 400, url
    assert Subscription.objects.count() == 0


def test_a_host_that_resolves_privately_at_challenge_time_is_refused(cast, client, httpserver, settings):
    register_webhook(client, cast, httpserver.url_for("/hooks/rebind"))
    s = Subscription.objects.get()
    settings.WEBHOOK_ALLOWED_PRIVATE_HOSTS = []
    with pytest.raises(services.ValidationFailed, match="private"):
        Subscription.objects.filter(pk=s.pk).update(address="https://rebound.example/hooks")
        s.refresh_from_db()
        services.subscription_verify_webhook(
            subscription=s, client="203.0.113.9", resolve=lambda *a, **k: [(2, 1, 6, "", ("10.0.0.7", 443))]
        )
    Subscription.objects.filter(pk=s.pk).update(address=httpserver.url_for("/hooks/rebind"))
    s.refresh_from_db()
    result = verify(client, s)
    # Refused before a byte is sent (plain http to a private host is not allowed either).
    assert result.status_code == 400 and "Not verified" in result.content.decode()
    assert len(httpserver.log) == 0


def test_a_removed_webhook_receives_nothing_and_cannot_be_verified(cast, client, httpserver):
    page = register_webhook(client, cast, httpserver.url_for("/hooks/gone"))
    s = Subscription.objects.get()
    httpserver.expect_request("/hooks/gone", method="POST").respond_with_handler(echoing(secret_on(page)))
    verify(client, s)
    stop = reverse("register:stop", args=[tokens.stop_token(s)])
    assert "Remove this webhook" in client.get(stop).content.decode()
    assert Client(enforce_csrf_checks=True).post(stop).status_code == 200
    publish(cast, "After-Removal")
    assert not Delivery.objects.filter(subscription=s).exists()
    assert verify(client, s).status_code == 400


def test_a_new_verified_registration_replaces_the_old_one(cast, client, httpserver):
    url = httpserver.url_for("/hooks/again")
    secrets = []
    for _ in range(2):
        page = register_webhook(client, cast, url)
        secrets.append(secret_on(page))
    first, second = Subscription.objects.order_by("created_at", "secret")
    first, second = sorted((first, second), key=lambda s: secrets.index(s.secret))
    for s, secret in ((first, secrets[0]), (second, secrets[1])):
        httpserver.clear()
        httpserver.expect_request("/hooks/again", method="POST").respond_with_handler(echoing(secret))
        assert verify(client, s).status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("ended", "active")


def test_challenges_are_throttled_per_client(cast, client):
    register_webhook(client, cast, "http://127.0.0.1:9/hooks/none")
    s = Subscription.objects.get()
    for _ in range(services.CHALLENGES_PER_CLIENT[0]):
        assert verify(client, s).status_code == 400
    assert verify(client, s).status_code == 429


def test_a_challenge_answer_is_read_only_so_far(cast, client, httpserver):
    register_webhook(client, cast, httpserver.url_for("/hooks/huge"))
    httpserver.expect_request("/hooks/huge", method="POST").respond_with_data("x" * 5_000_000)
    assert verify(client, Subscription.objects.get()).status_code == 400


def test_the_register_page_offers_to_follow_and_keeps_its_query_count(cast, client, django_assert_max_num_queries):
    for i in range(5):
        publish(cast, f"Model-{i}")
    with CaptureQueriesContext(connection) as few:
        page = client.get(reverse("register:page"))
    assert "Get notified" in page.content.decode() and f"{cast.lab.slug}/Model-3" in page.content.decode()
    for i in range(5, 40):
        publish(cast, f"Model-{i}")
    with django_assert_max_num_queries(len(few)):
        client.get(reverse("register:page"))


def test_the_follow_json_shape_of_a_challenge(cast, client, httpserver):
    """What an endpoint receives as its challenge: a documented shape, signed."""
    page = register_webhook(client, cast, httpserver.url_for("/hooks/shape"))
    secret = secret_on(page)
    httpserver.expect_request("/hooks/shape", method="POST").respond_with_handler(
        lambda request: Response(json.dumps({"challenge": json.loads(request.get_data())["data"]["challenge"]}))
    )
    assert verify(client, Subscription.objects.get()).status_code == 200
    request, _ = httpserver.log[0]
    body = Webhook(secret).verify(request.get_data(as_text=True), dict(request.headers))
    assert body["type"] == services.CHALLENGE_TYPE and set(body["data"]) == {"challenge", "following"}
