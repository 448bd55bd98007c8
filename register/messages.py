"""What followers of the register are sent. Built from the subscription and the event's
payload alone (the register's public fields), without the database: the outbox sends from
worker threads."""

import datetime as dt

from django.conf import settings
from django.urls import reverse

from caisi_portal import timefmt
from caisi_portal.text import one_line

from . import tokens

LISTED = "register.listed"
WITHDRAWN = "register.withdrawn"
SIGNATURE = "CAISI Review Portal (simulation): every review here is simulated data."


def _absolute(path: str) -> str:
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def stop_url(subscription) -> str:
    return _absolute(reverse("register:stop", args=[tokens.stop_token(subscription)]))


def confirm_url(subscription) -> str:
    return _absolute(reverse("register:confirm", args=[tokens.confirm_token(subscription)]))


def email_for(delivery) -> tuple[str, str, dict]:
    """(subject, body, headers) of a message to a follower: its confirmation, or a notice."""
    subscription = delivery.subscription
    stop = stop_url(subscription)
    target = one_line(subscription.target)
    if delivery.event_id is None:
        subject = one_line(f"Confirm: follow {target} on the CAISI public register")
        lines = [
            f"Someone (we hope you) asked for this address to be told when the office publishes a review of {target}"
            " on its public register.",
            "",
            f"To confirm, open this link before {timefmt.when(subscription.confirm_expires_at, zone=dt.UTC)}:",
            confirm_url(subscription),
            "",
            "If you did not ask, ignore this message: this address is told nothing unless the link is opened.",
            f"To cancel this request now, open: {stop}",
        ]
        return subject, "\n".join([*lines, "", SIGNATURE]), unsubscribe_headers(stop)
    row = delivery.event.payload
    if delivery.event.type == WITHDRAWN:
        subject = one_line(f"Withdrawn from the register: {row['organization']} {row['model']} {row['version']}")
        lines = [f"The office no longer lists the review of {row['organization']} {row['model']} {row['version']}."]
    else:
        subject = one_line(f"Published: {row['organization']} {row['model']} {row['version']}: {row['outcome']}")
        lines = [
            "The office published a review on its public register.",
            "",
            f"Developer: {row['organization']}",
            f"Model: {row['model']}",
            f"Version: {row['version']}",
            f"Release channel: {row['release_channel']}",
            f"Review outcome: {row['outcome']}",
            f"Date: {row['date']}",
        ]
    lines += [
        "",
        f"The register: {_absolute(reverse('register:page'))}",
        "",
        f"You receive this because this address follows {target}.",
        f"To stop, open: {stop}",
        "",
        f"Notification id: {delivery.webhook_id}",
        SIGNATURE,
    ]
    return subject, "\n".join(lines), unsubscribe_headers(stop)


def unsubscribe_headers(stop: str) -> dict:
    # RFC 2369 and RFC 8058: mail programs offer "unsubscribe" and POST to it in one click.
    return {"List-Unsubscribe": f"<{stop}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
