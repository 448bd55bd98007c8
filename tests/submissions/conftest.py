import pytest
import time_machine

from tests.submissions.clocks import START


@pytest.fixture
def traveller():
    """Time frozen at START; move it with traveller.move_to(...)."""
    with time_machine.travel(START, tick=False) as t:
        yield t
