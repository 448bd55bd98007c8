from django.db import migrations


class Migration(migrations.Migration):
    """The free text lives on as each order's description (0012): the column goes."""

    dependencies = [
        ("submissions", "0012_access_orders"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="modelsubmission",
            name="access_removal_order",
        ),
    ]
