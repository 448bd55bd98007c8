from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True)
def tick_exercises() -> dict:
    """Every few seconds (beat): each running exercise's injects and clocks, on its own time."""
    return {pk: report.fired for pk, report in services.tick_running_exercises().items()}


@shared_task(acks_late=True, ignore_result=True)
def tick_exercise(exercise_id: int) -> list[int]:
    """At an inject's exact moment (eta): the same tick, for one exercise."""
    from .models import Exercise

    exercise = Exercise.objects.filter(pk=exercise_id).first()
    return services.exercise_tick(exercise).fired if exercise else []
