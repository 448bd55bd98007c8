"""Errors that services raise and every interface (pages, API, tasks) turns into a
message a person understands. Messages are constants so tests reuse them."""

from __future__ import annotations


class ApplicationError(Exception):
    """A refusal with a human message; ``details`` maps fields to their own messages."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, details: dict | list | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(ApplicationError):
    code = "invalid"


class PayloadTooLarge(ApplicationError):
    status_code = 413
    code = "too_large"


class NotPermitted(ApplicationError):
    status_code = 403
    code = "forbidden"


class TransitionRefused(ApplicationError):
    """The transition does not exist from the current state, or its guards fail."""

    status_code = 409
    code = "transition_not_allowed"

    def __init__(self, message: str, *, state: str, details=None):
        super().__init__(message, details=details)
        self.state = state


class SubmissionChanged(TransitionRefused):
    """Someone else changed the submission between loading and acting: reload."""

    code = "conflict"
    MESSAGE = "This submission changed while you were working on it (it is now {state}). Reload and try again."

    def __init__(self, *, state: str):
        super().__init__(self.MESSAGE.format(state=state.replace("_", " ")), state=state)
