import pytest
import time_machine

from tests.dashboard.moments import NOW


@pytest.fixture
def traveller():
    """The dashboard's tests read their figures at NOW, time frozen."""
    with time_machine.travel(NOW, tick=False) as t:
        yield t
