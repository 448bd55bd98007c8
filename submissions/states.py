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


OPEN_REVIEW_STATES = (State.INTAKE, State.INFORMATION_REQUESTED, State.EVALUATION)
DETERMINED_STATES = (State.CLEARED, State.FLAGGED)
# States whose outcome has been announced to trusted partners.
ANNOUNCED_STATES = (State.CLEARED, State.FLAGGED, State.WINDOW_ELAPSED, State.RELEASED, State.ACCESS_REMOVED)


class ReleaseChannel(models.TextChoices):
    OPEN_WEIGHTS = "open_weights", "Open weights"
    API = "api", "API"
    CLOSED_PRODUCT = "closed_product", "Closed product"


__all__ = ["ANNOUNCED_STATES", "DETERMINED_STATES", "OPEN_REVIEW_STATES", "ReleaseChannel", "State"]
