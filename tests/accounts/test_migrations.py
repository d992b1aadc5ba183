"""Existing tokens are hashed in place and keep working; existing users keep their access."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from planning.accounts import tokens

BEFORE = [
    ("accounts", "0002_apitoken_hashed_fields"),
    ("account", "0009_emailaddress_unique_primary_email"),
]


@pytest.mark.django_db(transaction=True)
def test_existing_tokens_and_users_survive_the_migration():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("accounts", "User").objects.create(email="old@example.com", password="!")
    legacy_key = "ab" * 32  # tokens were 64 hex characters, stored as they were
    old.get_model("accounts", "ApiToken").objects.create(user=user, name="old", key=legacy_key)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        assert legacy_key not in repr(cursor.fetchall())
    token = tokens.authenticate(legacy_key)
    assert token is not None and token.user.email == "old@example.com"
    assert token.prefix == legacy_key[:8]
    from allauth.account.models import EmailAddress

    address = EmailAddress.objects.get(user__email="old@example.com")
    assert address.verified and address.primary
