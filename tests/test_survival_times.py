"""``distinct_times`` gives exactly ``np.unique(t, return_inverse=True)``, by counting when
the times are whole numbers in a narrow range and by sorting otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from outcomes.survival._common import distinct_times


@pytest.mark.parametrize(
    "t",
    [
        np.array([3.0, 1.0, 3.0, 0.0, 7.0, 1.0]),  # days, counted
        np.array([-2.0, 5.0, -2.0, 0.0]),  # negative whole numbers, counted
        np.array([0.5, 1.0, 0.5, 2.25]),  # not whole: sorted
        np.array([1.0, 1e12, 3.0]),  # whole but too wide a range: sorted
        np.array([4.0]),
        np.zeros(0),
    ],
)
def test_distinct_times_match_numpy(t):
    times, position = distinct_times(t)
    want_times, want_position = np.unique(t, return_inverse=True)
    assert times.dtype == want_times.dtype
    np.testing.assert_array_equal(times, want_times)
    np.testing.assert_array_equal(position, want_position)


def test_distinct_days_of_a_large_cohort():
    rng = np.random.default_rng(0)
    t = np.ceil(rng.exponential(200, size=200_000)).clip(max=730)
    times, position = distinct_times(t)
    want_times, want_position = np.unique(t, return_inverse=True)
    np.testing.assert_array_equal(times, want_times)
    np.testing.assert_array_equal(position, want_position)
    np.testing.assert_array_equal(times[position], t)  # worked back: each row's own time
