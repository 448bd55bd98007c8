"""The audit trail as two hash chains: one per submission, one across all submissions.

Each entry's chain_hash is SHA-256 over the previous entry of its submission's chain and
its own content; its global_hash over the previous entry of the global chain, its content
and its chain_hash. Editing, deleting or reordering a row behind the ORM's back breaks
every hash after it, and `manage.py verify_audit_chain` names the first broken entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import connection

GENESIS = "0" * 64
# Entries are sealed one at a time across the whole portal (PostgreSQL advisory lock;
# SQLite already serialises writers), so two chains never share a predecessor.
ADVISORY_LOCK_KEY = 0x43414953  # "CAIS"


def content_of(entry) -> str:
    return json.dumps(
        [
            entry.submission_id,
            entry.actor_id,
            entry.action,
            entry.from_state,
            entry.to_state,
            entry.comment,
            entry.internal,
            entry.at.isoformat(),
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _sha(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def seal(entry) -> None:
    """Set the entry's hashes from its predecessors. Call inside the inserting transaction."""
    from .models import AuditEntry

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
    previous_in_chain = (
        AuditEntry.objects.filter(submission_id=entry.submission_id)
        .order_by("-pk")
        .values_list("chain_hash", flat=True)
        .first()
    )
    previous_global = AuditEntry.objects.order_by("-pk").values_list("global_hash", flat=True).first()
    content = content_of(entry)
    entry.chain_hash = _sha(previous_in_chain or GENESIS, content)
    entry.global_hash = _sha(previous_global or GENESIS, content, entry.chain_hash)


@dataclass
class Break:
    entry_id: int
    submission_id: int
    chain: str  # "submission" or "global"

    def __str__(self):
        return f"audit entry {self.entry_id} (submission {self.submission_id}) breaks the {self.chain} chain"


def verify() -> tuple[int, Break | None]:
    """Recompute both chains in insertion order; return (entries checked, first break)."""
    from .models import AuditEntry

    last_in_chain: dict[int, str] = {}
    last_global = GENESIS
    checked = 0
    for entry in AuditEntry.objects.order_by("pk").iterator(chunk_size=2000):
        content = content_of(entry)
        expected_chain = _sha(last_in_chain.get(entry.submission_id, GENESIS), content)
        if entry.chain_hash != expected_chain:
            return checked, Break(entry.pk, entry.submission_id, "submission")
        expected_global = _sha(last_global, content, entry.chain_hash)
        if entry.global_hash != expected_global:
            return checked, Break(entry.pk, entry.submission_id, "global")
        last_in_chain[entry.submission_id] = entry.chain_hash
        last_global = entry.global_hash
        checked += 1
    return checked, None
