"""Anthropic's list prices (USD per million tokens, input and output) for the Claude model
families, so a new installation counts what its calls cost instead of $0. Cache writes and
reads follow from the input price (1.25 x and 0.1 x: Price.cache_write_rate/_read_rate). A
price an administrator has already set is kept; so are these rows when unapplied. Newer
models get a row in the admin (Prices): until then the app says they have none."""

from decimal import Decimal

from django.db import migrations

LIST_PRICES = {  # id prefix: (input, output); the longest matching prefix wins
    "claude-opus-4-5": ("5", "25"),
    "claude-opus-4-1": ("15", "75"),
    "claude-opus-4": ("15", "75"),
    "claude-sonnet-4": ("3", "15"),
    "claude-haiku-4-5": ("1", "5"),
    "claude-3-7-sonnet": ("3", "15"),
    "claude-3-5-sonnet": ("3", "15"),
    "claude-3-5-haiku": ("0.8", "4"),
    "claude-3-opus": ("15", "75"),
    "claude-3-haiku": ("0.25", "1.25"),
}


def seed(apps, schema_editor):
    Price = apps.get_model("audits", "Price")
    for prefix, (input_price, output_price) in LIST_PRICES.items():
        Price.objects.get_or_create(
            model_id=prefix,
            defaults={
                "input_per_mtok": Decimal(input_price),
                "output_per_mtok": Decimal(output_price),
            },
        )


class Migration(migrations.Migration):
    dependencies = [("audits", "0003_probeproposal")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
