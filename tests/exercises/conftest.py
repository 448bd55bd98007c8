import pytest

from accounts.roles import Role
from tests.factories import UserFactory


@pytest.fixture
def controller(cast):
    """The office's exercise controller (live), who creates and runs the exercises."""
    return UserFactory(username="controller", role=Role.EXERCISE_CONTROLLER, organization=cast.office)
