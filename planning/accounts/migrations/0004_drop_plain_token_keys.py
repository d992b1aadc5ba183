from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_hash_existing_tokens")]

    operations = [
        migrations.RemoveField(model_name="apitoken", name="key"),
        migrations.AlterField(
            model_name="apitoken",
            name="key_hash",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
    ]
