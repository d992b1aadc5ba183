from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from planning.accounts.models import User
from planning.live.services import start_demo
from planning.teams.models import Team


class Command(BaseCommand):
    help = "Start a demo live session whose worker streams a long fake generation."

    def add_arguments(self, parser):
        parser.add_argument("--team", help="team slug (default: the first team)")
        parser.add_argument("--user", help="email of the user who starts it")
        parser.add_argument("--words", type=int, default=600)
        parser.add_argument("--delay", type=float, default=0.03, help="seconds per word")

    def handle(self, *args, team=None, user=None, words=600, delay=0.03, **options):
        teams = Team.objects.order_by("pk")
        team_obj = teams.filter(slug=team).first() if team else teams.first()
        if team_obj is None:
            raise CommandError("No such team; create one (or run `manage.py seed_demo`).")
        user_obj = User.objects.filter(email=user).first() if user else None
        if user and user_obj is None:
            raise CommandError(f"No user {user}")
        session = start_demo(team_obj, user_obj, words=words, delay=delay)
        url = settings.SITE_URL.rstrip("/") + session.get_absolute_url()
        self.stdout.write(f"Demo session {session.pk} started for {team_obj.name}: {url}")
