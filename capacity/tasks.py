from celery import shared_task

from . import services


# A large scenario runs for minutes (forms.MAX_SIMULATED keeps it to about two): above the
# portal's default limit of five minutes, with room to spare.
@shared_task(acks_late=True, ignore_result=True, soft_time_limit=14 * 60, time_limit=15 * 60)
def run_scenario(scenario_id: int) -> None:
    """Run one capacity scenario (queued when an administrator saves it)."""
    services.scenario_run(scenario_id)
