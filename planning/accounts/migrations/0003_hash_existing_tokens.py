"""Existing tokens keep working: their stored key is replaced by its SHA-256 hash."""

import hashlib

from django.db import migrations


def hash_keys(apps, schema_editor):
    ApiToken = apps.get_model("accounts", "ApiToken")
    for token in ApiToken.objects.filter(key_hash__isnull=True).only("pk", "key"):
        token.key_hash = hashlib.sha256(token.key.encode()).hexdigest()
        token.prefix = token.key[:8]
        token.save(update_fields=["key_hash", "prefix"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_apitoken_hashed_fields")]

    operations = [migrations.RunPython(hash_keys, migrations.RunPython.noop)]
