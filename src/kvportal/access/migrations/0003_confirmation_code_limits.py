# Issue 13: one confirmation primitive (core/confirmation.py) — per-day code limit for access too.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0002_confirmation_sends_requested"),
    ]

    operations = [
        migrations.AddField(
            model_name="confirmation",
            name="code_sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="confirmation",
            name="codes_day",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="confirmation",
            name="codes_sent",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
