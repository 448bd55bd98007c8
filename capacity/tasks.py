from celery import shared_task

from caisi_portal import clock

from . import services


# A large scenario runs for minutes (forms.MAX_SIMULATED keeps it to three or four): its own limit,
# above the portal's default of five minutes, leaves room for a loaded machine.
@shared_task(acks_late=True, ignore_result=True, soft_time_limit=14 * 60, time_limit=15 * 60)
def run_scenario(scenario_id: int) -> None:
    """Run one capacity scenario (queued when an administrator saves it)."""
    services.scenario_run(scenario_id)


@shared_task(acks_late=True, ignore_result=True)
def requeue_stalled_scenarios() -> int:
    """Every five minutes (beat): send again the scenarios whose message was lost."""
    return len(services.scenarios_requeue_stalled(clock.now()))
