def exercise(request):
    """The exercise a player is in, for the EXERCISE banner and the simulated time."""
    found = getattr(request, "exercise", None)
    if found is None:
        return {}
    return {"exercise": found, "exercise_now": found.simulated_now()}
