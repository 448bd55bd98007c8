"""A follower of the register, end to end, with the real email backend: Django's SMTP backend
talking to an SMTP server on this machine (aiosmtpd), the outbox sent by a real Celery worker on
the real Redis. Subscribe, confirm by the emailed link, a publication brings exactly one email
with its unsubscribe link and headers, one click unsubscribes, the next publication sends nothing."""

import email
import email.policy
import re
import socket
import threading
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.test import Client
from django.urls import reverse

from partners.models import Delivery
from register.models import Subscription
from submissions.models import State
from submissions.services import submission_set_published
from tests.factories import Cast
from tests.partners.test_worker_delivery import worker  # noqa: F401 - the real worker fixture
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ADDRESS = "builder@downstream.example"


class Inbox:
    """aiosmtpd's handler: every message the SMTP server accepts, parsed."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()

    @property
    def messages(self):
        """The follower's messages only (the office's own emails about a review also go out)."""
        with self.lock:
            return [(to, m) for to, m in self.received if to == [ADDRESS]]

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_subscribe_confirm_notice_one_click_unsubscribe_then_nothing(smtp, worker):  # noqa: F811
    cast = Cast()
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(reverse("register:follow"), {"follow": cast.lab.slug})
    token = page.cookies["csrftoken"].value
    asked = browser.post(
        reverse("register:follow"),
        {"follow": cast.lab.slug, "channel": "email", "email": ADDRESS, "csrfmiddlewaretoken": token},
    )
    assert asked.status_code == 200 and "Check your inbox" in asked.content.decode()

    # The confirmation, through the outbox, the worker and SMTP: the only message until confirmed.
    assert wait_for(lambda: len(smtp.messages) == 1)
    to, confirmation = smtp.messages[0]
    assert to == [ADDRESS]
    # Even the confirmation can be refused in one click (RFC 8058), by the same link as notices.
    refuse = str(confirmation["List-Unsubscribe"]).strip().strip("<>")
    assert confirmation["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = confirmation.get_content()
    assert f"every model of {cast.lab.name}" in text
    link = re.search(r"http\S+/register/follow/confirm/\S+/", text).group(0)

    shown = browser.get(path_of(link))  # opening the link only shows a button (mail scanners open links)
    assert shown.status_code == 200 and Subscription.objects.get().status == Subscription.Status.PENDING
    done = browser.post(path_of(link), {"csrfmiddlewaretoken": token})
    assert done.status_code == 200 and "Confirmed" in done.content.decode()
    assert Subscription.objects.get().status == Subscription.Status.ACTIVE

    first = cast.submission(State.CLEARED, model_name="Beacon-7")
    submission_set_published(submission=first, actor=cast.admin, published=True)
    assert wait_for(lambda: len(smtp.messages) == 2)
    to, notice = smtp.messages[1]
    assert to == [ADDRESS]
    assert notice["Subject"] == f"Published: {cast.lab.name} Beacon-7 1.0: Cleared"
    stop = str(notice["List-Unsubscribe"]).strip().strip("<>")
    assert stop == refuse
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = notice.get_content()
    assert f"To stop, open: {stop}" in body and f"follows every model of {cast.lab.name}" in body
    assert "Review outcome: Cleared" in body
    assert wait_for(lambda: Delivery.objects.filter(subscription__isnull=False, status="delivered").count() == 2)

    # RFC 8058: the mail program POSTs "List-Unsubscribe=One-Click", with no cookie and no CSRF token.
    mail_program = Client(enforce_csrf_checks=True)
    one_click = mail_program.post(
        path_of(stop), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert one_click.status_code == 200 and "Unsubscribed" in one_click.content.decode()
    assert Subscription.objects.get().status == Subscription.Status.ENDED

    second = cast.submission(State.CLEARED, model_name="Beacon-8")
    submission_set_published(submission=second, actor=cast.admin, published=True)
    # Nothing was written for the second publication, so nothing can be sent.
    assert not Delivery.objects.filter(event__submission=second, subscription__isnull=False).exists()
    assert not wait_for(lambda: len(smtp.messages) > 2, timeout=1.5)
