"""Tamper evidence: an edit behind the ORM's back is caught and named."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from submissions.audit_chain import verify
from submissions.models import AuditEntry, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(cast):
    first = cast.submission(State.CLEARED)
    second = cast.submission(State.INFORMATION_REQUESTED)
    return first, second


def test_intact_trail_verifies(history, capsys):
    checked, broken = verify()
    assert broken is None and checked == AuditEntry.objects.count() > 10
    call_command("verify_audit_chain")
    assert f"{checked} entries verified" in capsys.readouterr().out


def test_each_entry_seals_its_predecessor(history):
    first, _ = history
    entries = list(AuditEntry.objects.filter(submission=first).order_by("pk"))
    assert len({e.chain_hash for e in entries}) == len(entries)
    assert all(len(e.chain_hash) == 64 and len(e.global_hash) == 64 for e in entries)


@pytest.mark.parametrize(
    ("column", "value"),
    [("comment", "'nothing to see here'"), ("to_state", "'cleared'"), ("actor_id", "NULL")],
)
def test_a_row_edited_behind_the_orm_is_named(history, column, value):
    first, _ = history
    target = AuditEntry.objects.filter(submission=first).order_by("pk")[2]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE submissions_auditentry SET {column} = {value} WHERE id = %s", [target.pk])
    _, broken = verify()
    assert broken.entry_id == target.pk and broken.submission_id == first.pk and broken.chain == "submission"
    with pytest.raises(CommandError, match=f"audit entry {target.pk} "):
        call_command("verify_audit_chain")


def test_a_deleted_row_breaks_the_chain_after_it(history):
    first, _ = history
    entries = list(AuditEntry.objects.filter(submission=first).order_by("pk"))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM submissions_auditentry WHERE id = %s", [entries[1].pk])
    _, broken = verify()
    assert broken.entry_id == entries[2].pk


def test_a_rehashed_forgery_still_breaks_the_global_chain(history):
    """Recomputing one submission's chain after an edit is caught by the global chain."""
    from submissions.audit_chain import GENESIS, _sha, content_of

    first, _ = history
    entries = list(AuditEntry.objects.filter(submission=first).order_by("pk"))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE submissions_auditentry SET comment = 'forged' WHERE id = %s", [entries[0].pk])
    previous = GENESIS
    for entry in AuditEntry.objects.filter(submission=first).order_by("pk"):
        previous = _sha(previous, content_of(entry))
        with connection.cursor() as cursor:
            cursor.execute("UPDATE submissions_auditentry SET chain_hash = %s WHERE id = %s", [previous, entry.pk])
    _, broken = verify()
    assert broken.entry_id == entries[0].pk and broken.chain == "global"
