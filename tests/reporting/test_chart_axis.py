"""The dashboard charts' axis: a top that holds the largest value, with a whole-number
middle grid line (the charts label 0, the middle and the top)."""
import pytest

from rating.services.reporting.dashboard import _nice_max, ticks

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("value", "top"), [
    (0, 4), (1, 4), (4, 4), (5, 6), (7, 8), (9, 10), (10, 10), (11, 20), (21, 40),
    (99, 100), (101, 200), (401, 600), (7_300, 8_000), (104_000, 200_000),
])
def test_the_top_is_the_least_even_step_that_holds_the_value(value, top):
    assert _nice_max(value) == top


def test_every_axis_has_an_even_top_and_a_whole_middle():
    for value in range(0, 25_000):
        top = _nice_max(value)
        low, middle, high = ticks(top)
        assert high == top >= value and low == 0, value
        assert middle * 2 == top, value
        assert top < max(value, 4) * 2.5, value     # not so tall that the bars are flat
