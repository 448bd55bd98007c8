"""A submission's states and release channels (imported by the models and by the transitions'
declarations, which the models read: kept apart so neither imports the other)."""

from django.db import models


class State(models.TextChoices):
    DRAFT = "draft", "Draft"
    INTAKE = "intake", "Intake"
    INFORMATION_REQUESTED = "information_requested", "Information requested"
    EVALUATION = "evaluation", "Evaluation"
    CLEARED = "cleared", "Cleared"
    FLAGGED = "flagged", "Flagged"
    WITHDRAWN = "withdrawn", "Withdrawn"
    RELEASED = "released", "Released"
    ACCESS_REMOVED = "access_removed", "Access removed"
    WINDOW_ELAPSED = "window_elapsed", "Review window elapsed"


# A state as people say it after "is" ("Orion 4.6 is under evaluation"): a label is a heading
# ("Evaluation"), and "is evaluation" is not English.
_AFTER_IS = {
    State.DRAFT: "still a draft",
    State.INTAKE: "in intake",
    State.INFORMATION_REQUESTED: "waiting for the developer's answer",
    State.EVALUATION: "under evaluation",
    State.CLEARED: "cleared",
    State.FLAGGED: "flagged",
    State.WITHDRAWN: "withdrawn",
    State.RELEASED: "released",
    State.ACCESS_REMOVED: "under an order that removed its access",
    State.WINDOW_ELAPSED: "past its review window",
}


def state_phrase(state) -> str:
    """The words after "is" for a submission in `state`."""
    return _AFTER_IS[State(state)]


OPEN_REVIEW_STATES = (State.INTAKE, State.INFORMATION_REQUESTED, State.EVALUATION)
DETERMINED_STATES = (State.CLEARED, State.FLAGGED)
# A determination may be proposed, concurred with and issued in evaluation, and late, after the
# window elapsed (the record and every notice then say it was issued after the window).
DETERMINABLE_STATES = (State.EVALUATION, State.WINDOW_ELAPSED)
# Findings may still arrive after the window, and after release (an advisory rests on them).
FINDING_STATES = (State.EVALUATION, State.WINDOW_ELAPSED, State.RELEASED)
# Where a government order finds a model: deployed (released, or cleared / past its window and
# deployed all the same) its access is removed; not yet released, the order holds the release.
ORDER_REMOVAL_STATES = (State.RELEASED, State.CLEARED, State.WINDOW_ELAPSED)
ORDER_HOLD_STATES = (State.CLEARED, State.WINDOW_ELAPSED, State.FLAGGED)
# States whose outcome has been announced to trusted partners.
ANNOUNCED_STATES = (State.CLEARED, State.FLAGGED, State.WINDOW_ELAPSED, State.RELEASED, State.ACCESS_REMOVED)


class ReleaseChannel(models.TextChoices):
    OPEN_WEIGHTS = "open_weights", "Open weights"
    API = "api", "API"
    CLOSED_PRODUCT = "closed_product", "Closed product"


# Said by the record, the page and every notice about an open-weights model's order.
OPEN_WEIGHTS_NOTE = "This model was published as open weights: published weights cannot be recalled."

__all__ = [
    "ANNOUNCED_STATES",
    "DETERMINABLE_STATES",
    "DETERMINED_STATES",
    "FINDING_STATES",
    "OPEN_REVIEW_STATES",
    "OPEN_WEIGHTS_NOTE",
    "ORDER_HOLD_STATES",
    "ORDER_REMOVAL_STATES",
    "ReleaseChannel",
    "State",
    "state_phrase",
]
