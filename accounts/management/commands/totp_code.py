"""Print a seeded demo account's current sign-in code (laptop demo only)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts import two_factor


class Command(BaseCommand):
    help = "Print the current six-digit code of a seeded demo account's authenticator."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, username, **options):
        if not settings.DEBUG:
            raise CommandError("Only for the local demo (DEBUG=true): real people use their own app.")
        user = get_user_model().objects.filter(username=username, is_simulated=True).first()
        if user is None:
            raise CommandError(f"No seeded demo account called {username!r}.")
        device = two_factor.confirmed_device(user)
        if device is None:
            raise CommandError(f"{username} has no authenticator; sign in and set one up.")
        self.stdout.write(two_factor.current_code(device))
