"""Create (or refresh) a demo user and team so Exponent can be explored straight away.

Each installed app may add its own demo data in `<app>/demo.py` with a function
`seed(team, user) -> None` that must be idempotent, so running the command twice leaves one
copy of everything. Apps are seeded in INSTALLED_APPS order.
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from planning.accounts.addresses import add_verified_address
from planning.accounts.models import User
from planning.teams.models import Membership, Role, Team
from planning.teams.services import create_team

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "exponent-demo"
DEMO_SLUG = "demo"


class Command(BaseCommand):
    help = "Create a demo user (demo@example.com / exponent-demo) and a demo team with sample data."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=DEMO_PASSWORD)

    @transaction.atomic
    def handle(self, *args, **options):
        user, created = User.objects.get_or_create(
            email=DEMO_EMAIL, defaults={"name": "Demo Leader"}
        )
        if created:
            user.set_password(options["password"])
            user.save()
        add_verified_address(user)  # the demo login needs no confirmation mail
        team = Team.objects.filter(slug=DEMO_SLUG).first()
        if team is None:
            team = create_team(
                owner=user,
                name="Demo Team",
                slug=DEMO_SLUG,
                time_zone="Europe/London",
                fiscal_year_start_month=4,
            )
        Membership.objects.get_or_create(team=team, user=user, defaults={"role": Role.OWNER})
        for config in apps.get_app_configs():
            module_name = f"{config.name}.demo"
            if find_spec(module_name) is None:
                continue
            import_module(module_name).seed(team, user)
            self.stdout.write(f"  seeded {config.verbose_name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: log in as {DEMO_EMAIL} / {options['password']} "
                f"and open /t/{DEMO_SLUG}/"
            )
        )
