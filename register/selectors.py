"""The public register: only what the office chose to publish, nothing derivable beyond it."""

import datetime as dt

from django.db.models import Count, Max, Q

from reviews.models import Determination
from submissions.models import (
    AccessRemovalOrder,
    Agreement,
    AgreementEvent,
    AuditCheckpoint,
    AuditEntry,
    ModelSubmission,
    Organization,
    SlaBreach,
    SlaKind,
    WeightsPublication,
)


def agreements():
    """Every live developer organization's agreement status (public by the office's choice).
    Exercise organizations are training data and never public."""
    return list(
        Agreement.objects.filter(organization__kind=Organization.Kind.DEVELOPER, organization__exercise__isnull=True)
        .select_related("organization")
        .order_by("organization__name")
    )


def agreements_matching(query: str) -> list[dict]:
    """For a search: what the public list of agreements says about each developer whose name
    matches. Built from agreements() alone (public), never from unpublished submissions, so it
    tells nothing about a model that is under review or whose review was not published."""
    if not query:
        return []
    needle = query.casefold()
    out = []
    for a in agreements():
        name = a.organization.name
        if needle not in name.casefold():
            continue
        status = a.get_status_display().lower()
        if a.status == Agreement.Status.SIGNED:
            text = (
                f"{name} has signed a review agreement with the office: a model of theirs that is not listed"
                " here may be under review, or its review may not have been published."
            )
        elif a.status in (Agreement.Status.SUSPENDED, Agreement.Status.TERMINATED):
            text = (
                f"{name}'s review agreement with the office is {status}: its new models are not submitted"
                " for review here."
            )
        else:
            text = (
                f"{name} has not signed a review agreement with the office ({status}): its models are not"
                " submitted for review here."
            )
        out.append(
            {"organization": name, "status": a.status, "signed": a.status == Agreement.Status.SIGNED, "text": text}
        )
    return out


def published_reviews(query: str = ""):
    """Published, finished reviews. Each row is built from an explicit list of public fields."""
    # Only a finished review can be published (submission_set_published), and a finished
    # review never goes back: published_at alone decides, on its own index.
    qs = ModelSubmission.objects.filter(published_at__isnull=False, is_exercise=False)
    if query:
        qs = qs.filter(Q(model_name__icontains=query) | Q(organization__name__icontains=query))
    return qs.select_related("organization").order_by("-published_at", "-pk")


def register_version() -> tuple[str, dt.datetime | None]:
    """What changes every answer of the register, and when it last did, in six small queries.

    The register is made of published reviews, agreements and checkpoints, and only of
    them: a review is listed or withdrawn only through its "published" / "unpublished" audit
    entry, agreements are read whole (a few dozen rows), and a checkpoint is a row of its own.
    Orders recorded or lifted on listed reviews, and their published weights, are on their rows too.
    Nothing else the office does (its other configuration, people's settings) moves the
    version, so a poller learns nothing from it but what the register itself shows.
    """
    listing = (
        AuditEntry.objects.filter(action__in=("published", "unpublished"))
        .order_by("-pk")
        .values_list("pk", "at")
        .first()
    )
    checkpoint = AuditCheckpoint.objects.order_by("-pk").values_list("pk", "taken_at").first()
    # Orders (recorded or lifted) and publications of listed reviews are on their rows.
    published = {"submission__published_at__isnull": False, "submission__is_exercise": False}
    orders = AccessRemovalOrder.objects.filter(**published).aggregate(
        newest=Max("pk"), recorded=Max("recorded_at"), lifted=Count("lifted_at"), last_lifted=Max("lifted_at")
    )
    # Recorded or withdrawn: either changes a listed row.
    publication = WeightsPublication.objects.filter(**published).aggregate(
        newest=Max("pk"), recorded=Max("recorded_at"), withdrawn=Count("withdrawn_at"), last=Max("withdrawn_at")
    )
    agreement_rows = [(a.organization.name, a.status, str(a.signed_on)) for a in agreements()]
    changed = (
        AgreementEvent.objects.filter(
            agreement__organization__kind=Organization.Kind.DEVELOPER, agreement__organization__exercise__isnull=True
        )
        .order_by("-pk")
        .values_list("recorded_at", flat=True)
        .first()
    )
    version = repr(
        (
            listing and listing[0],
            checkpoint and checkpoint[0],
            agreement_rows,
            orders["newest"],
            orders["lifted"],
            publication["newest"],
            publication["withdrawn"],
        )
    )
    times = [
        t
        for t in (
            listing and listing[1],
            checkpoint and checkpoint[1],
            changed,
            orders["recorded"],
            orders["last_lifted"],
            publication["recorded"],
            publication["last"],
        )
        if t
    ]
    return version, max(times) if times else None


def public_rows(submissions) -> list[dict]:
    """Turn a page of submissions into the register's public fields, in four queries.

    Once a government order is recorded on a model, its row carries the order's public facts
    (reference, authority, date, scope, whether lifted) and, for open weights, where the weights
    were published with each file's SHA-256: what a downstream builder needs to tell whether
    what they run is affected. Nothing internal (no description, no recorder)."""
    ids = [s.pk for s in submissions]
    orders: dict = {}
    for order in AccessRemovalOrder.objects.filter(submission_id__in=ids).order_by("recorded_at", "pk"):
        facts = order.facts()
        orders.setdefault(order.submission_id, []).append(
            {
                **{k: facts[k] for k in ("reference", "authority", "issued_on", "scope_label", "lifted_at")},
                "kind": order.get_kind_display(),
                "open_weights_note": order.open_weights_note,
            }
        )
    publications: dict = {}
    for p in WeightsPublication.objects.current().filter(submission_id__in=list(orders)).order_by("recorded_at", "pk"):
        publications.setdefault(p.submission_id, []).append({"location": p.location, "sha256": p.sha256})
    determinations = {
        d.submission_id: d
        for d in Determination.objects.filter(submission_id__in=ids, issued_at__isnull=False).only(
            "submission_id", "outcome", "issued_at", "issued_after_window"
        )
    }
    elapsed = dict(
        SlaBreach.objects.filter(submission_id__in=ids, kind=SlaKind.DETERMINATION).values_list(
            "submission_id", "due_at"
        )
    )
    rows = []
    for s in submissions:
        d = determinations.get(s.pk)
        if d:
            outcome, date = d.get_outcome_display(), d.issued_at.date()
            if d.issued_after_window:
                outcome += " (issued after the review window)"
        elif s.pk in elapsed:
            outcome, date = "Review window elapsed without a determination", elapsed[s.pk].date()
        else:
            continue
        rows.append(
            {
                "organization": s.organization.name,
                "model": s.model_name,
                "version": s.model_version,
                "release_channel": s.get_release_channel_display(),
                "outcome": outcome,
                "date": date.isoformat(),
                # When the office listed it: public by nature, and what a feed reader sorts by.
                "listed_at": s.published_at,
                "orders": orders.get(s.pk, []),
                "weights_publications": publications.get(s.pk, []),
            }
        )
    return rows


CHECKPOINTS_SHOWN = 14


def checkpoints() -> list[dict]:
    """The audit chain's published heads, newest first: anyone may keep a copy, and a trail
    rewritten or cut short afterwards no longer matches what was published here."""
    return [
        {"taken_at": c.taken_at, "entries": c.entries, "head": c.head, "seal": c.seal}
        for c in AuditCheckpoint.objects.all()[:CHECKPOINTS_SHOWN]
    ]


def followable(listed_agreements=None) -> list[dict]:
    """What the register's follow form offers, from what the register lists: every developer
    on it (its agreement, or a published review) and the models of its published reviews.
    [{"slug", "name", "organization", "models": [...]}], by name, in one or two queries."""
    developers = {}
    for a in agreements() if listed_agreements is None else listed_agreements:
        developers[a.organization.pk] = {"organization": a.organization, "models": set()}
    families = published_reviews().order_by().values_list("organization_id", "model_name").distinct()
    missing = set()
    for organization_id, model_name in families:
        if organization_id not in developers:
            missing.add(organization_id)
            developers[organization_id] = {"organization": None, "models": set()}
        developers[organization_id]["models"].add(model_name)
    if missing:
        for organization in Organization.objects.filter(pk__in=missing):
            developers[organization.pk]["organization"] = organization
    out = [
        {
            "slug": d["organization"].slug,
            "name": d["organization"].name,
            "organization": d["organization"],
            "models": sorted(d["models"], key=str.casefold),
        }
        for d in developers.values()
        if d["organization"] is not None
    ]
    return sorted(out, key=lambda d: d["name"].casefold())
