"""Concurrences sealed with the plain SHA-256 digest are resealed with the keyed one
(reviews.models.Determination.digest), so a concurrence that held before still holds.

The payload is rebuilt here from the historical models, as the model built it when this
migration was written; a stored digest that does not match it (the proposal or the evidence
changed since) is left as it is, and still does not hold.
"""

import hashlib
import hmac
import json

from django.conf import settings
from django.db import migrations


def _payload(apps, determination) -> bytes:
    EvaluationResult = apps.get_model("reviews", "EvaluationResult")
    Finding = apps.get_model("reviews", "Finding")
    results = EvaluationResult.objects.filter(submission_id=determination.submission_id).order_by("version_id")
    findings = Finding.objects.filter(submission_id=determination.submission_id).order_by("pk")
    sealed = {
        "outcome": determination.outcome,
        "rationale": determination.rationale,
        "partner_summary": determination.partner_summary,
        "release_conditions": determination.release_conditions,
        "justifications": determination.justifications or {},
        "evidence": [
            [[r.version_id, str(r.score), r.level, r.outcome] for r in results],
            [[f.pk, f.severity, f.classification] for f in findings],
        ],
    }
    return json.dumps(sealed, sort_keys=True, default=str).encode()


def reseal(apps, schema_editor):
    Determination = apps.get_model("reviews", "Determination")
    key = settings.SECRET_KEY.encode()
    for determination in Determination.objects.exclude(concurred_digest=""):
        payload = _payload(apps, determination)
        if hashlib.sha256(payload).hexdigest() != determination.concurred_digest:
            continue
        determination.concurred_digest = hmac.new(
            key, b"determination-digest:" + payload, hashlib.sha256
        ).hexdigest()
        determination.save(update_fields=["concurred_digest"])


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0009_results_by_benchmark_version"),
    ]

    operations = [migrations.RunPython(reseal, migrations.RunPython.noop)]
