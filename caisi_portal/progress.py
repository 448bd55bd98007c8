"""How far a background job has come, as its progress bar shows it."""


def percent(done: int, total: int | None, *, complete: bool) -> int:
    """0 to 100; 100 only once the job is complete (a job at its last item is not done yet)."""
    if complete:
        return 100
    if not total:
        return 0
    return min(99, done * 100 // total)
