"""An exercise player's requests run on their exercise's simulated clock."""

from caisi_portal import clock


class ExerciseClock:
    """After authentication: every `clock.now()` in a player's request is simulated time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        exercise_id = getattr(user, "exercise_id", None) if user is not None and user.is_authenticated else None
        if not exercise_id:
            return self.get_response(request)
        from .models import Exercise

        request.exercise = Exercise.objects.get(pk=exercise_id)
        with clock.simulated(request.exercise.simulated_now):
            return self.get_response(request)
