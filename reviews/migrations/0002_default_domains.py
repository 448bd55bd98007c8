from django.db import migrations

DEFAULT_DOMAINS = [
    ("cyber-offense", "Cyber offense", "Uplift to discovering and exploiting vulnerabilities.", 10),
    ("chem-bio-uplift", "Chemical and biological uplift", "Uplift towards chemical or biological weapons.", 20),
    ("autonomy-ai-rnd", "Autonomy and AI R&D", "Autonomous replication, long-horizon agency, AI R&D automation.", 30),
    ("safeguard-robustness", "Safeguard robustness (jailbreaks)", "How well safeguards resist circumvention.", 40),
]


def create_domains(apps, schema_editor):
    EvaluationDomain = apps.get_model("reviews", "EvaluationDomain")
    for slug, name, description, order in DEFAULT_DOMAINS:
        EvaluationDomain.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "sort_order": order}
        )


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]
    operations = [migrations.RunPython(create_domains, migrations.RunPython.noop)]
