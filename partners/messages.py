"""What notifications say. Built only from an event's partner-safe payload."""

import datetime as dt

from django.conf import settings

from caisi_portal import timefmt
from caisi_portal.text import one_line
from caisi_portal.words import counted

from .models import SLA_BREACHED, event_label

SUBJECTS = {
    "submission.cleared": "Cleared: {model} {version} ({organization})",
    "submission.flagged": "Flagged: {model} {version} ({organization})",
    "submission.window_elapsed": "Review window elapsed: {model} {version} ({organization})",
    "submission.released": "Released: {model} {version} ({organization})",
    "submission.access_removed": "Access removed: {model} {version} ({organization})",
    "submission.access_hold": "Release held by government order: {model} {version} ({organization})",
    "submission.access_reinstated": "Order lifted, access reinstated: {model} {version} ({organization})",
    "submission.advisory": "Advisory: {model} {version} ({organization})",
    "submission.information_requested": "Information requested: {model} {version}",
    "review.deadline_warning": "{days_left} left to review {model} {version}",
    SLA_BREACHED: "Overdue: {target} for {model} {version} ({organization})",
    "submission.information_answered": "The developer answered: {model} {version} ({organization})",
    "review.assigned": "You are assigned to review {model} {version} ({organization})",
    "review.unassigned": "Your assignment has ended: {model} {version} ({organization})",
    "review.concurrence_requested": "Your concurrence is asked: {model} {version} ({organization})",
    "review.results_reminder": "Reminder: planned results missing for {model} {version}",
    "review.results_escalation": "Escalation: planned results still missing for {model} {version} ({organization})",
    "submission.pause_limit_warning": "Answer owed: {model} {version} will be returned unless you answer",
    "submission.returned": "Returned unanswered: {model} {version} ({organization})",
    "submission.withdrawn_by_office": "Review ended with the agreement: {model} {version} ({organization})",
    "submission.agreement_changed": "Agreement changed, review continues: {model} {version} ({organization})",
}


LIFTED_HOLD = "Hold lifted, the release may now be recorded: {model} {version} ({organization})"


def _in_words(key: str, value):
    """The payload keeps codes for machines (webhooks); people read their labels."""
    from submissions.models import ReleaseChannel, State

    if key in ("state", "outcome"):
        return dict(State.choices).get(value, value)
    if key == "release_channel":
        return dict(ReleaseChannel.choices).get(value, value)
    if key in ("determined_at", "released_at", "deadline_at", "returned_at", "sla_due_at") and isinstance(value, str):
        # One message for many readers in many zones: the portal's format, in UTC, named.
        return timefmt.when(value, zone=dt.UTC) or value
    return value


def _order_lines(order) -> list[str]:
    """A government order's facts, for people."""
    if not isinstance(order, dict):
        return []
    issued = timefmt.day(order.get("issued_on"), zone=dt.UTC) or order.get("issued_on", "")
    reference, authority = one_line(str(order.get("reference", ""))), one_line(str(order.get("authority", "")))
    lines = [
        f"Order: {reference}, issued {issued} by {authority}",
        f"Scope: {order.get('scope_label', '')}",
    ]
    if order.get("scope_description"):
        lines.append(f"What it covers: {order['scope_description']}")
    if order.get("lifted_at"):
        lines.append(f"Lifted: {timefmt.when(order['lifted_at'], zone=dt.UTC) or order['lifted_at']}")
    return lines


# What the heading of a message already says (a digest groups its items under it).
HEADING_KEYS = ("organization", "model_name", "model_version")
_LABELS = {
    "organization": "Organization",
    "model_name": "Model",
    "model_version": "Version",
    "release_channel": "Release channel",
    "outcome": "Outcome",
    "state": "State",
    "determined_at": "Determined",
    "released_at": "Released",
    "deadline_at": "Review deadline",
    "returned_at": "Returned on",
    "sla_target": "Missed target",
    "sla_due_at": "Was due",
    "remaining": "Time left",
    "missing_results": "Planned results",
    "summary": "Summary released by the office",
    "release_conditions": "Release conditions",
    "agreement": "Review agreement",
    "next_action": "What to do",
    "handover_note": "Handover note",
}


def detail_lines(data: dict, skip=()) -> list[str]:
    """An event's facts for people, one per line: the single email's body, and each item of a
    digest (which names the model in its heading and the deadline in the reader's zone)."""
    lines = [
        f"{label}: {_in_words(key, data[key])}" for key, label in _LABELS.items() if key not in skip and data.get(key)
    ]
    if data.get("after_window_note"):
        lines.append(str(data["after_window_note"]))
    if data.get("joint_note"):
        lines.append(one_line(str(data["joint_note"])))
    if data.get("advisory"):
        lines += ["", "Advisory from the office:", str(data["advisory"])]
    lines += _order_lines(data.get("order"))
    if data.get("open_weights_note"):
        lines.append(data["open_weights_note"])
    published = data.get("weights_publications") or []
    if published:
        lines.append("Where the weights were published (location, SHA-256):")
        lines += [f"- {one_line(str(p.get('location', '')))} {one_line(str(p.get('sha256', '')))}" for p in published]
    return lines


def email_for(delivery) -> tuple[str, str]:
    if delivery.event_id is None:
        # A digest: its words were written when it was built (partners.digests).
        return one_line(delivery.subject), delivery.body
    event = delivery.event
    data = event.payload
    fields = {
        "model": data.get("model_name", ""),
        "version": data.get("model_version", ""),
        "organization": data.get("organization", ""),
        "days_left": counted(data["days_left"], "day") if isinstance(data.get("days_left"), int) else "",
        "target": str(data.get("sla_target", "")).lower(),
    }
    template = SUBJECTS.get(event.type, event_label(event.type))
    if event.type == "submission.access_reinstated" and (data.get("order") or {}).get("kind") == "hold":
        # A hold lifted: access was never removed; what changes is that the release may be recorded.
        template = LIFTED_HOLD
    # Built defensively: whatever a name holds, the Subject header stays one line.
    subject = one_line(template.format(**fields))
    if event.is_exercise:
        subject = f"[EXERCISE] {subject}"
    lines = [subject, "", *detail_lines(data)]
    if delivery.recipient_id and data.get("path"):
        lines += ["", f"Open it in the portal: {settings.PORTAL_BASE_URL.rstrip('/')}{data['path']}"]
    lines += ["", f"Notification id: {delivery.webhook_id}", "CAISI Review Portal (simulation)"]
    return subject, "\n".join(lines)
