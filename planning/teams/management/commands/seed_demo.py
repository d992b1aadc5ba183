"""Create (or refresh) a demo user and team so Exponent can be explored straight away.

Each section adds its own demo data with the `demo` seeder it registers (planning/sections.py),
which must be idempotent, so running the command twice leaves one copy of everything. Sections
are seeded in INSTALLED_APPS order.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from planning import sections
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
        for section in sections.in_app_order():
            if section.demo:
                section.seed_demo(team, user)
                self.stdout.write(f"  seeded {section.verbose_name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: log in as {DEMO_EMAIL} / {options['password']} "
                f"and open /t/{DEMO_SLUG}/"
            )
        )
