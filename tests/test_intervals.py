"""Interval helpers against R."""

from __future__ import annotations

import polars as pl
import pytest

from outcomes.intervals import mean_ci, wilson, z_value

# R: r <- prop.test(x, n, correct=FALSE)$conf.int; sprintf("%.15g", r)
R_WILSON = [
    (8, 14, 0.325906445796507, 0.786192010955259),
    (7, 20, 0.181191824101082, 0.567145723314764),
    (0, 12, 0.0, 0.242494006655241),
    (12, 12, 0.757505993344759, 1.0),
    (1, 1, 0.206549314377238, 1.0),
]


@pytest.mark.parametrize(("x", "n", "low", "high"), R_WILSON)
def test_wilson_matches_r_prop_test(x, n, low, high):
    lo, hi = wilson(pl.lit(x), pl.lit(n))
    got = pl.select(lo.alias("lo"), hi.alias("hi")).row(0)
    assert got[0] == pytest.approx(low, rel=1e-8, abs=1e-12)
    assert got[1] == pytest.approx(high, rel=1e-8, abs=1e-12)


def test_wilson_undefined_without_units():
    lo, hi = wilson(pl.lit(0), pl.lit(0))
    assert pl.select(lo.alias("lo"), hi.alias("hi")).row(0) == (None, None)


def test_z_and_mean_ci_by_hand():
    assert z_value(0.95) == pytest.approx(1.959963984540054, rel=1e-12)
    # values 1, 2, 3: mean 2, sd 1, se 1/sqrt(3)
    m, lo, hi = mean_ci(pl.col("v"))
    got = pl.DataFrame({"v": [1.0, 2.0, 3.0]}).select(m, lo.alias("lo"), hi.alias("hi")).row(0)
    half = 1.959963984540054 / 3**0.5
    assert got == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    with pytest.raises(ValueError):
        z_value(1.5)
