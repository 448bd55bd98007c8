"""A partner's previous webhook secrets become a list, each signing until its own overlap ends
(one field held only the latest, so a second rotation cut off a receiver using the first)."""

from django.db import migrations, models


def keep_the_previous_secret(apps, schema_editor):
    TrustedPartner = apps.get_model("partners", "TrustedPartner")
    for partner in TrustedPartner.objects.exclude(previous_webhook_secret="").exclude(
        previous_secret_until__isnull=True
    ):
        partner.previous_secrets = [
            {"secret": partner.previous_webhook_secret, "made_at": None, "until": partner.previous_secret_until.isoformat()}
        ]
        partner.save(update_fields=["previous_secrets"])


def keep_the_latest_previous_secret(apps, schema_editor):
    TrustedPartner = apps.get_model("partners", "TrustedPartner")
    for partner in TrustedPartner.objects.exclude(previous_secrets=[]):
        latest = max(partner.previous_secrets, key=lambda row: row["until"])
        partner.previous_webhook_secret = latest["secret"]
        partner.previous_secret_until = latest["until"]
        partner.save(update_fields=["previous_webhook_secret", "previous_secret_until"])


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0008_delivery_dropped"),
    ]

    operations = [
        migrations.AddField(
            model_name="trustedpartner",
            name="webhook_secret_made_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="trustedpartner",
            name="previous_secrets",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(keep_the_previous_secret, keep_the_latest_previous_secret),
        migrations.RemoveField(model_name="trustedpartner", name="previous_secret_until"),
        migrations.RemoveField(model_name="trustedpartner", name="previous_webhook_secret"),
    ]
