# Finding 6 (security review): the signatory link token is stored only as its SHA-256.
import hashlib

from django.db import migrations, models


def hash_tokens(apps, schema_editor):
    Signatory = apps.get_model("admission", "Signatory")
    for signatory in Signatory.objects.all():
        value = signatory.token_sha256
        signatory.token_sha256 = hashlib.sha256(value.encode("utf-8")).hexdigest()
        signatory.save(update_fields=["token_sha256"])


class Migration(migrations.Migration):
    dependencies = [("admission", "0001_initial")]

    operations = [
        migrations.RenameField("signatory", "token", "token_sha256"),
        # raw tokens already mailed keep working: their hash is what is stored now
        migrations.RunPython(hash_tokens, migrations.RunPython.noop),
        migrations.AddField(
            model_name="signatory",
            name="codes_day",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="signatory",
            name="codes_sent",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
