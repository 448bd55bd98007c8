"""A real Celery worker fires an exercise's injects; a lost tick costs nothing but promptness."""

import datetime as dt

import pytest

from accounts.roles import Role
from exercises import scenarios, services
from exercises.models import Exercise
from exercises.tasks import tick_exercise, tick_exercises
from tests.factories import Cast, UserFactory
from tests.partners.test_worker_delivery import wait_for, worker  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_worker_fires_due_injects_once_even_when_ticks_are_lost_and_repeated(worker):  # noqa: F811
    cast = Cast()
    controller = UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=cast.office)
    exercise = services.exercise_create(scenario=scenarios.by_slug("routine-review"), actor=controller).exercise
    services.exercise_start(exercise=exercise, actor=controller)
    # Simulated time reaches day 6: injects 1 to 3 are due. The ticks queued until now were lost
    # (a worker died, Redis restarted); beat's next ticks arrive, some of them twice.
    services.exercise_jump(exercise=exercise, actor=controller, to=exercise.sim_start + dt.timedelta(days=6))
    for _ in range(3):
        tick_exercises.delay()
        tick_exercise.delay(exercise.pk)
    assert wait_for(lambda: exercise.injects.filter(fired_at__isnull=False).count() == 3)
    assert wait_for(lambda: Exercise.objects.get(pk=exercise.pk).messages.count() >= 3)
    fired = exercise.injects.filter(fired_at__isnull=False)
    assert sorted(fired.values_list("number", flat=True)) == [1, 2, 3]
    for inject in fired:
        recipients = list(inject.messages.values_list("recipient", flat=True))
        assert len(recipients) == len(set(recipients)) >= 1  # each player told once
