"""A benchmark version's metric aliases: the Inspect scorer/metric pairs that give its score."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("benchmarks", "0001_catalog"),
    ]

    operations = [
        migrations.AddField(
            model_name="benchmarkversion",
            name="metric_aliases",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
