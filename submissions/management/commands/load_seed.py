from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from submissions.seeding import SeedError, load_seed


class Command(BaseCommand):
    help = "Load a seed file (default seeds/demo.yaml). Idempotent: existing records are left alone."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(Path(settings.BASE_DIR) / "seeds" / "demo.yaml"))
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Load demo accounts even though DEBUG is false (never on a real deployment).",
        )

    def handle(self, path, allow_without_debug, **options):
        if not settings.DEBUG and not allow_without_debug:
            raise CommandError("Refusing to load demo accounts with DEBUG false; pass --allow-without-debug.")
        try:
            report = load_seed(Path(path))
        except SeedError as exc:
            raise CommandError(str(exc)) from None
        for line in report.created:
            self.stdout.write(f"created {line}")
        if not report.created:
            self.stdout.write("Seed already loaded: nothing changed.")
        self.stdout.write("\nDemo accounts (local demo only, SIMULATED data):")
        for username, role, password in report.passwords:
            self.stdout.write(f"  {username:<18} {role:<22} {password}")
        self.stdout.write(
            "\nOffice accounts (administrator, reviewers) also ask for a six-digit code at sign-in:"
            "\n  python manage.py totp_code admin.dana   prints the demo authenticator's current code."
        )
