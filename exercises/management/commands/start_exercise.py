"""Start an exercise from a scenario file and print the players' sign-in sheet."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from caisi_portal.errors import ApplicationError
from exercises import scenarios, services


class Command(BaseCommand):
    help = "Create an exercise from seeds/scenarios/<slug>.yaml (or a path) and optionally start its clock."

    def add_arguments(self, parser):
        parser.add_argument("scenario", help="a scenario slug (seeds/scenarios/) or a path to a YAML file")
        parser.add_argument("--controller", required=True, help="username of the controller starting it")
        parser.add_argument("--speed", type=float, help="simulated seconds per real second (1 to 10080)")
        parser.add_argument("--run", action="store_true", help="start the simulated clock at once")

    def handle(self, scenario, controller, speed, run, **options):
        try:
            path = Path(scenario)
            loaded = scenarios.load(path) if path.suffix in (".yaml", ".yml") else scenarios.by_slug(scenario)
        except scenarios.ScenarioError as exc:
            raise CommandError(str(exc)) from None
        actor = get_user_model().objects.filter(username=controller).first()
        if actor is None:
            raise CommandError(f"No user called {controller!r}.")
        try:
            sheet = services.exercise_create(scenario=loaded, actor=actor, speed=speed)
            if run:
                services.exercise_start(exercise=sheet.exercise, actor=actor)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        exercise = sheet.exercise
        self.stdout.write(f"Exercise {exercise.pk}: {exercise.name} ({exercise.get_status_display().lower()}).")
        self.stdout.write(f"Controller console: /exercises/{exercise.pk}/")
        self.stdout.write("Players (passwords shown once):")
        for username, password in sheet.passwords.items():
            self.stdout.write(f"  {username:<28} {password}")
