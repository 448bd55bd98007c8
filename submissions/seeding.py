"""Load a seed file (YAML) idempotently: what exists already is left as it is.

Submissions are carried to their state through the same services people use, so each
has a real timeline. Everything created is marked as simulated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Clearance
from accounts.roles import Role
from benchmarks.models import BenchmarkVersion
from caisi_portal import clock
from partners.models import TrustedPartner
from reviews import services as review_services
from reviews.models import Assignment, ConflictOfInterest, EvaluationDomain

from . import services
from .models import Agreement, AgreementEvent, Artifact, ModelSubmission, Organization


class SeedError(Exception):
    pass


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    passwords: list[tuple[str, str, str]] = field(default_factory=list)


def load_seed(path: Path) -> SeedReport:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise SeedError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SeedError(f"{path}: expected a mapping at the top level.")
    report = SeedReport()
    with transaction.atomic():
        _organizations(data, report)
        users = _users(data, report)
        _conflicts(data, users)
        _benchmarks(data.get("benchmarks") or {}, users)
        _arrangements(data, users, report)
        for spec in data.get("submissions", []):
            _submission(spec, users, report)
        if report.created:
            # The demo's trail gets its first published checkpoint at once (then daily, by beat).
            from .audit_chain import checkpoint_take

            checkpoint_take()
    return report


def _organizations(data, report):
    office = data["review_office"]
    _org(office, Organization.Kind.REVIEW_OFFICE, report)
    for spec in data.get("developers", []):
        org = _org(spec, Organization.Kind.DEVELOPER, report)
        agreement, created = Agreement.objects.get_or_create(organization=org)
        if not created:
            continue
        wanted = spec.get("agreement", "none")
        if wanted in ("negotiating", "signed", "suspended"):
            if wanted == "negotiating":
                agreement.open_negotiation()
            else:
                agreement.sign()
            if wanted == "suspended":
                agreement.suspend()
        agreement.negotiation_started_on = spec.get("negotiation_started_on")
        agreement.signed_on = spec.get("signed_on")
        agreement.review_window_days = spec.get("review_window_days", 30)
        agreement.save()
        if wanted != "none":
            AgreementEvent.objects.create(
                agreement=agreement,
                from_status="none",
                to_status=agreement.status,
                recorded_by=None,
                recorded_at=services.clock.now(),
                note="Loaded from the demo seed.",
            )
    for spec in data.get("allied_institutes", []):
        org = _org(spec, Organization.Kind.ALLIED_INSTITUTE, report)
        if spec.get("public_name") and not org.public_name:
            org.public_name = spec["public_name"]
            org.save(update_fields=["public_name"])
    for spec in data.get("trusted_partners", []):
        org = _org(spec, Organization.Kind.TRUSTED_PARTNER, report)
        partner, created = TrustedPartner.objects.get_or_create(
            organization=org,
            defaults={"emails": "\n".join(spec.get("emails", [])), "event_types": spec.get("events", [])},
        )
        if created and spec.get("demo_webhook"):
            path = reverse("partners:demo_receiver", args=[partner.pk])
            partner.webhook_url = settings.PORTAL_BASE_URL.rstrip("/") + path
            partner.save(update_fields=["webhook_url"])


def _org(spec, kind, report):
    org, created = Organization.objects.get_or_create(
        slug=spec["slug"], defaults={"name": spec["name"], "kind": kind, "is_simulated": True}
    )
    if created:
        report.created.append(f"organization {org}")
    return org


def _users(data, report):
    User = get_user_model()
    users = {}
    for spec in data.get("users", []):
        try:
            role = Role(spec["role"])
        except ValueError:
            raise SeedError(f"user {spec.get('username')}: unknown role {spec.get('role')!r}.") from None
        user, created = User.objects.get_or_create(
            username=spec["username"],
            defaults={
                "first_name": spec.get("first_name", ""),
                "last_name": spec.get("last_name", ""),
                "email": f"{spec['username']}@example.test",
                "organization": Organization.objects.get(slug=spec["organization"]),
                "clearance": Clearance[spec.get("clearance", "UNCLASSIFIED")],
                "is_simulated": True,
                "is_staff": bool(spec.get("superuser")),
                "is_superuser": bool(spec.get("superuser")),
            },
        )
        if created:
            user.set_password(spec["password"])
            user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=role))
            report.created.append(f"user {user.username}")
        # Roles held beside the main one (a lab's integration manager is also its staff).
        for extra in spec.get("also", []):
            try:
                user.groups.add(Group.objects.get(name=Role(extra)))
            except ValueError:
                raise SeedError(f"user {user.username}: unknown role {extra!r}.") from None
        _demo_second_factor(user)
        report.passwords.append((user.username, role.label, spec["password"]))
        users[user.username] = user
    return users


def _demo_second_factor(user):
    """Office accounts need a TOTP device; demo ones get one whose code `totp_code` prints."""
    from accounts import two_factor

    if two_factor.second_factor_required(user) and not two_factor.confirmed_device(user):
        two_factor.simulated_device(user, name="Demo authenticator (manage.py totp_code)")


def _conflicts(data, users):
    for spec in data.get("conflicts", []):
        ConflictOfInterest.objects.get_or_create(
            reviewer=users[spec["reviewer"]],
            organization=Organization.objects.get(slug=spec["organization"]),
            defaults={
                "kind": spec.get("kind", ConflictOfInterest.Kind.DECLARED),
                "note": spec.get("note", ""),
                "declared_at": services.clock.now(),
            },
        )


def _benchmarks(data, users):
    """The catalog, through its services (levels recorded with a reason, audited); a benchmark
    already there is left as it is, so loading the seed twice changes nothing."""
    from accounts.models import Clearance
    from benchmarks import services as benchmark_services
    from benchmarks.models import Benchmark

    if not data:
        return
    actor = users[data["by"]]
    for spec in data.get("list", []):
        if Benchmark.objects.filter(slug=spec["slug"]).exists():
            continue
        versions = [
            {
                "label": v["label"],
                "classification": Clearance[v["classification"]],
                "metric": v["metric"],
                "direction": v["direction"],
                "levels": {"elevated": v.get("elevated"), "critical": v.get("critical")},
                "inspect_tasks": v.get("tasks", []),
                "metric_aliases": v.get("aliases", []),
                "reason": v.get("reason", "Lines set when the benchmark was adopted."),
            }
            for v in spec["versions"]
        ]
        first = benchmark_services.benchmark_create(
            actor=actor,
            domain=EvaluationDomain.objects.get(slug=spec["domain"]),
            name=spec["name"],
            slug=spec["slug"],
            description=spec.get("description", ""),
            **versions[0],
        )
        for version in versions[1:]:
            benchmark_services.benchmark_version_create(actor=actor, benchmark=first.benchmark, **version)


def _arrangements(data, users, report):
    """Each allied institute's data-sharing arrangement, recorded by an administrator (once)."""
    from accounts.models import Clearance as Level
    from joint.models import DataSharingArrangement
    from joint.services import arrangement_record

    for spec in data.get("allied_institutes", []):
        given = spec.get("arrangement")
        institute = Organization.objects.get(slug=spec["slug"])
        if not given or DataSharingArrangement.objects.filter(institute=institute).exists():
            continue
        arrangement = arrangement_record(
            actor=users[given["by"]],
            institute=institute,
            reference=given["reference"],
            classification_cap=Level[given.get("classification_cap", "UNCLASSIFIED")],
            starts_on=clock.now().date() - dt.timedelta(days=int(given.get("started_days_ago", 0))),
        )
        report.created.append(f"arrangement {arrangement}")


# The earlier version is named in the seed by its version string (see _earlier_version).
DRAFT_KEYS = tuple(k for k in services.DRAFT_FIELDS if k != "supersedes")


def _submission(spec, users, report):
    org = Organization.objects.get(slug=spec["organization"])
    if ModelSubmission.objects.filter(
        organization=org, model_name=spec["model_name"], model_version=str(spec["model_version"])
    ).exists():
        return
    minutes_ago = spec.get("submitted_minutes_ago")
    if minutes_ago:
        # Play this submission's history as if it began that long ago.
        started = timezone.now() - dt.timedelta(minutes=int(minutes_ago))
        offset = timezone.now() - started
        with clock.simulated(lambda: timezone.now() - offset):
            _build_submission(spec, org, users, report)
    else:
        _build_submission(spec, org, users, report)


def _build_submission(spec, org, users, report):
    author = users[spec["created_by"]]
    fields = {k: spec[k] for k in DRAFT_KEYS if k in spec}
    fields["model_version"] = str(fields["model_version"])
    if spec.get("supersedes") is not None:
        fields["supersedes"] = _earlier_version(org, spec)
    submission = services.submission_create_draft(actor=author, **fields)
    submission.is_simulated = True
    submission.save(update_fields=["is_simulated"])
    if spec.get("model_card"):
        card = SimpleUploadedFile("model-card.md", spec["model_card"].encode(), content_type="text/markdown")
        services.artifact_upload(submission=submission, actor=author, kind=Artifact.Kind.MODEL_CARD, uploaded=card)
    for step in spec.get("steps", []):
        _step(submission, step, users, author)
    for a in spec.get("assignments", []):
        review_services.assignment_create(
            submission=submission,
            reviewer=users[a["reviewer"]],
            role=a.get("role", Assignment.Role.MEMBER),
            actor=users[a["by"]],
        )
    for j in spec.get("joint", []):
        # A joint review: the office invites an allied institute, one of its reviewers accepts.
        from joint import services as joint_services

        invitation = joint_services.invitation_create(
            actor=users[j["by"]],
            submission=submission,
            institute=Organization.objects.get(slug=j["institute"]),
            note=j.get("note", ""),
        )
        if j.get("accepted_by"):
            joint_services.invitation_respond(actor=users[j["accepted_by"]], invitation=invitation, accept=True)
    for r in spec.get("results", []):
        # {benchmark: slug, version: label (the current one if left out), score, by}
        versions = BenchmarkVersion.objects.filter(benchmark__slug=r["benchmark"])
        version = versions.get(label=r["version"]) if "version" in r else versions.get(is_current=True)
        review_services.evaluation_result_record(
            submission=submission, version=version, actor=users[r["by"]], score=r["score"]
        )
    for f in spec.get("findings", []):
        review_services.finding_record(
            submission=submission,
            actor=users[f["by"]],
            domain=EvaluationDomain.objects.get(slug=f["domain"]),
            severity=f["severity"],
            classification=Clearance[f.get("classification", "UNCLASSIFIED")],
            title=f["title"],
            description=f["description"],
            recommendation=f.get("recommendation", ""),
        )
    for r in spec.get("resolved", []):
        # A finding carried from the earlier version, resolved by the re-review's lead (by title).
        carried = submission.findings.get(carried_from__isnull=False, title=r["finding"])
        review_services.finding_resolve(finding=carried, actor=users[r["by"]], reason=r["reason"])
    for step in spec.get("final", []):
        _step(submission, step, users, author)
    for p in spec.get("publications", []):
        services.weights_publication_record(
            submission=submission, actor=users[p["by"]], location=p["location"], sha256=str(p["sha256"])
        )
    for o in spec.get("orders", []):
        # A government order, recorded (and lifted, when the seed says so) as the office would.
        fields = {k: o[k] for k in ("reference", "authority", "scope", "scope_description") if k in o}
        fields["issued_on"] = o.get("issued_on") or clock.now().date()
        order = services.access_order_record(
            submission=submission, actor=users[o["by"]], data=fields, deployed=bool(o.get("deployed"))
        )
        if o.get("lifted"):
            submission.refresh_from_db()
            services.access_order_lift(order=order, actor=users[o["lifted"]["by"]], reason=o["lifted"]["reason"])
        submission.refresh_from_db()
    if spec.get("publish_by"):
        services.submission_set_published(submission=submission, actor=users[spec["publish_by"]], published=True)
    report.created.append(f"submission {submission} ({submission.get_state_display()})")


def _earlier_version(org, spec):
    """The seed names the version a new one supersedes by its version string (same model)."""
    earlier = ModelSubmission.objects.filter(
        organization=org, model_name=spec["model_name"], model_version=str(spec["supersedes"])
    ).first()
    if earlier is None:
        raise SeedError(
            f"{spec['model_name']} {spec['model_version']} supersedes version {spec['supersedes']!r}, "
            "which the seed has not loaded before it."
        )
    return earlier


def _step(submission, step, users, default_actor):
    actor = users[step["actor"]] if "actor" in step else default_actor
    data = {k: v for k, v in step.items() if k not in ("name", "actor", "comment")}
    if step["name"] == "accept":
        data.setdefault("checklist", dict.fromkeys(services.INTAKE_CHECKLIST, True))
        if "domains" in data:  # a scoped plan, named by slug
            data["domains"] = [EvaluationDomain.objects.get(slug=slug) for slug in data["domains"]]
    services.submission_transition(
        submission=submission, name=step["name"], actor=actor, comment=step.get("comment", ""), data=data
    )
