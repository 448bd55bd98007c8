"""The audit trail as two hash chains: one per submission, one across all entries.

Configuration changes (no submission) form a chain of their own, the office's.

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
from django.db.models import Max

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
    seal_many([entry])


def seal_many(entries) -> None:
    """Seal entries about to be inserted together, in this order (the sweep's bursts).

    One lock and two queries however many entries: the chain heads are read once and each
    entry becomes the next one's predecessor. Insert them in the same order, in the same
    transaction, so their ids follow the chain.
    """
    from .models import AuditEntry

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
    heads = _chain_heads({entry.submission_id for entry in entries})
    previous_global = AuditEntry.objects.order_by("-pk").values_list("global_hash", flat=True).first() or GENESIS
    for entry in entries:
        content = content_of(entry)
        entry.chain_hash = _sha(heads.get(entry.submission_id) or GENESIS, content)
        entry.global_hash = _sha(previous_global, content, entry.chain_hash)
        heads[entry.submission_id] = entry.chain_hash
        previous_global = entry.global_hash


def _chain_heads(submission_ids: set) -> dict:
    """The newest chain_hash of each chain (None: the configuration chain)."""
    from .models import AuditEntry

    def newest(chain):
        return chain.order_by("-pk").values_list("chain_hash", flat=True).first()

    heads = {}
    if None in submission_ids:
        heads[None] = newest(AuditEntry.objects.filter(submission__isnull=True))
    ids = submission_ids - {None}
    if ids:
        # One query for a burst's chains, on either database: the newest entry of each submission.
        newest_ids = AuditEntry.objects.filter(submission_id__in=ids).values("submission_id").annotate(newest=Max("pk"))
        heads.update(
            AuditEntry.objects.filter(pk__in=newest_ids.values("newest")).values_list("submission_id", "chain_hash")
        )
    return heads


@dataclass
class Break:
    entry_id: int
    submission_id: int | None
    chain: str  # "submission", "global" or a checkpoint's

    def __str__(self):
        where = f"submission {self.submission_id}" if self.submission_id else "configuration"
        return f"audit entry {self.entry_id} ({where}) breaks the {self.chain} chain"


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


# --- checkpoints: the chain's head, published --------------------------------------------------


def checkpoint_take(now=None):
    """Seal the chain's head now (daily by beat; the public register publishes it)."""
    from django.db import transaction
    from django.utils import timezone

    from .models import AuditCheckpoint, AuditEntry

    now = now or timezone.now()  # wall time: a checkpoint is a fact about the real trail
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        last = AuditEntry.objects.order_by("-pk").values_list("pk", "global_hash").first()
        last_id, head = last if last else (None, GENESIS)
        previous = AuditCheckpoint.objects.order_by("-pk").values_list("seal", flat=True).first() or GENESIS
        entries = AuditEntry.objects.count()
        seal_value = _sha(previous, now.isoformat(), str(entries), str(last_id), head)
        return AuditCheckpoint.objects.create(
            taken_at=now, entries=entries, last_entry_id=last_id, head=head, previous=previous, seal=seal_value
        )


def verify_checkpoints() -> str | None:
    """Each checkpoint still matches the trail: its last entry exists with the same hash, and
    the trail up to it holds as many entries. Returns the first mismatch in words, or None."""
    from .models import AuditCheckpoint, AuditEntry

    previous = GENESIS
    for cp in AuditCheckpoint.objects.order_by("pk"):
        expected = _sha(cp.previous, cp.taken_at.isoformat(), str(cp.entries), str(cp.last_entry_id), cp.head)
        if cp.previous != previous or cp.seal != expected:
            return f"checkpoint of {cp.taken_at:%Y-%m-%d %H:%M} UTC has been altered"
        previous = cp.seal
        if cp.last_entry_id is None:
            continue
        entry_hash = AuditEntry.objects.filter(pk=cp.last_entry_id).values_list("global_hash", flat=True).first()
        when = f"the checkpoint of {cp.taken_at:%Y-%m-%d %H:%M} UTC"
        if entry_hash is None:
            return f"the trail no longer holds entry {cp.last_entry_id}, which {when} sealed (entries were deleted)"
        if entry_hash != cp.head:
            return f"entry {cp.last_entry_id} no longer has the hash {when} published (the trail was re-hashed)"
        if AuditEntry.objects.filter(pk__lte=cp.last_entry_id).count() != cp.entries:
            return f"the trail up to {when} no longer holds {cp.entries} entries"
    return None


def verify_all() -> tuple[int, str | None]:
    """The chains and the checkpoints: (entries checked, the first problem in words or None)."""
    checked, broken = verify()
    if broken:
        return checked, str(broken)
    return checked, verify_checkpoints()


def integrity_check_and_alert() -> str | None:
    """Verify everything; on a problem, tell the live administrators once (per problem)."""
    import hashlib as _hashlib

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from accounts.roles import Role

    from .models import AuditIntegrityAlert

    _, problem = verify_all()
    if problem is None:
        return None
    fingerprint = _hashlib.sha256(problem.encode()).hexdigest()
    try:
        with transaction.atomic():
            AuditIntegrityAlert.objects.create(fingerprint=fingerprint, found_at=timezone.now(), description=problem)
    except IntegrityError:
        return problem  # already told
    admins = (
        get_user_model()
        .objects.filter(groups__name=Role.ADMINISTRATOR, is_active=True, exercise__isnull=True)
        .exclude(email="")
    )
    send_mail(
        "[CAISI Review Portal] The audit trail failed verification",
        f"The audit trail's verification found: {problem}.\n\n"
        "Run `python manage.py verify_audit_chain` for details and compare with the published checkpoints.",
        settings.DEFAULT_FROM_EMAIL,
        [u.email for u in admins],
        fail_silently=True,
    )
    return problem
