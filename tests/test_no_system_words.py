"""No page shows people the system's own vocabulary: every role's main pages on the demo
seed are read as text (tags, attributes and URLs aside) and no snake_case identifier
(`window_elapsed`) or dotted event name (`submission.information_requested`) may appear."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from submissions.models import ModelSubmission
from submissions.review_clock import act_on_due_items
from submissions.seeding import load_seed
from tests.built_once import rows_built_once, shared

# The demo seed brings its own catalog: no reference benchmarks beside it.
pytestmark = [pytest.mark.django_db, pytest.mark.empty_catalog]

SEED = Path(settings.BASE_DIR) / "seeds" / "demo.yaml"
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
DOTTED = re.compile(r"\w+\.\w+_\w+")
EVENT_CODE = re.compile(r"\b(?:submission|review)\.[a-z]+\b")  # submission.cleared, too
URLISH = re.compile(r"\S*(?:/|://)\S*")  # a path or address shown as text is not vocabulary


class _Text(HTMLParser):
    """The text nodes a person reads: no attribute values, no script or style."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.nodes: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.nodes.append(data.strip())


def system_words(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    found = []
    for node in parser.nodes:
        text = URLISH.sub(" ", node)
        found += [
            m
            for m in SNAKE.findall(text) + DOTTED.findall(text) + EVENT_CODE.findall(text)
            if not any(c.isdigit() for c in m)
        ]
    return found


def _demo():
    report = load_seed(SEED)
    act_on_due_items(timezone.now() + dt.timedelta(days=40))  # breaches and an elapsed window
    _deliver_demo_webhooks()
    return report


@pytest.fixture(scope="module")
def demo_built(django_db_setup, django_db_blocker):
    """The demo seed, loaded once for the module; each test runs in a savepoint of its own."""
    with rows_built_once(django_db_blocker, _demo, catalog=False, DEMO_WEBHOOK_RECEIVER=True) as built:
        yield built


@pytest.fixture
def demo(request, demo_built, settings):
    settings.DEMO_WEBHOOK_RECEIVER = True
    return shared(request, demo_built)


def _deliver_demo_webhooks():
    """What the demo receiver would have kept: one message per partner delivery."""
    from partners.models import Delivery, DemoInboxMessage
    from partners.transports import webhook_body

    for d in Delivery.objects.filter(partner__isnull=False).select_related("event", "partner"):
        DemoInboxMessage.objects.get_or_create(
            partner=d.partner,
            webhook_id=d.webhook_id,
            defaults={
                "event_type": d.event.type,
                "body": _body(webhook_body, d),
                "signature_valid": True,
                "first_received_at": timezone.now(),
            },
        )


def _body(webhook_body, delivery):
    import json

    body = webhook_body(delivery)
    return json.loads(body) if isinstance(body, (str, bytes)) else body


def _pages(user) -> list[str]:
    from submissions import services

    pages = [
        reverse("home"),
        reverse("profile"),
        reverse("submissions:list"),
        reverse("submissions:agreements"),
        reverse("dashboard:index"),
        reverse("dashboard:breaches"),
        reverse("dashboard:reports"),
        reverse("partners:deliveries"),
        reverse("partners:demo_inbox"),
        reverse("register:page"),
        reverse("register:page") + "?q=Meta",
        reverse("exercises:list"),
        reverse("capacity:list"),
    ]
    for s in ModelSubmission.objects.visible_to(user):
        pages.append(s.get_absolute_url())
        for t in services.available_transitions(s, user):
            pages.append(reverse("submissions:action", args=[s.pk, t.name]))
    return pages


ROLES = ["dev.openai", "dev.meta", "reviewer.alice", "lead.carol", "admin.dana", "partner.erin", "controller.frank"]


@pytest.mark.parametrize("username", ROLES)
def test_no_page_shows_system_vocabulary(demo, client, username):
    user = User.objects.get(username=username)
    client.force_login(user)
    seen = 0
    problems = {}
    for url in dict.fromkeys(_pages(user)):
        response = client.get(url)
        if response.status_code != 200:
            continue  # not this person's page (404) or elsewhere (302)
        seen += 1
        words = system_words(response.content.decode())
        if words:
            problems[url] = sorted(set(words))
    assert seen >= 4
    assert not problems, problems


def test_exercise_pages_show_no_system_vocabulary(demo, client):
    from exercises import scenarios, services

    controller = User.objects.get(username="controller.frank")
    problems = {}
    for scenario in scenarios.available():
        exercise = services.exercise_create(scenario=scenario, actor=controller).exercise
        services.exercise_start(exercise=exercise, actor=controller)
        services.exercise_jump(exercise=exercise, actor=controller, to=exercise.sim_end())
        services.exercise_tick(exercise.__class__.objects.get(pk=exercise.pk))
        client.force_login(controller)
        for url in (
            reverse("exercises:list"),
            reverse("exercises:console", args=[exercise.pk]),
            reverse("exercises:report", args=[exercise.pk]),
        ):
            words = system_words(client.get(url).content.decode())
            if words:
                problems[url] = sorted(set(words))
        for player in exercise.players.all():
            client.force_login(player)
            for url in (reverse("home"), reverse("exercises:inbox"), reverse("submissions:list")):
                response = client.get(url)
                if response.status_code == 200 and system_words(response.content.decode()):
                    problems[f"{url} as {player.username}"] = sorted(set(system_words(response.content.decode())))
    assert not problems, problems


def test_the_checker_catches_what_it_should():
    assert system_words("<p>the submission is window_elapsed</p>") == ["window_elapsed"]
    assert system_words("<td>submission.information_requested</td>")
    assert system_words("<td>submission.cleared</td>") == ["submission.cleared"]
    assert not system_words('<a href="/x?state=window_elapsed" class="state-window_elapsed">Review window elapsed</a>')
    assert not system_words("<script>var a_b = 1;</script><p>Fine words.</p>")


def test_every_audit_action_and_sla_kind_has_a_label():
    from submissions.models import AUDIT_ACTION_LABELS, AuditEntry, SlaKind
    from submissions.services import all_transition_names

    for name in all_transition_names():
        assert name in AUDIT_ACTION_LABELS, name
    for action, label in AUDIT_ACTION_LABELS.items():
        assert "_" not in label and AuditEntry(action=action).label == label
    assert AuditEntry(action="something_new").label == "Something new"  # a newcomer still reads as words
    for kind in SlaKind:
        assert "_" not in kind.label and kind.label != kind.value
