"""Shared pieces of the survival estimators: input frames, groups, confidence transforms."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import polars as pl

from outcomes.intervals import z_value

ConfType = Literal["log", "log-log", "plain"]


def as_polars(df) -> pl.DataFrame:
    """Accept polars, pandas or pyarrow input; return polars."""
    if isinstance(df, pl.DataFrame):
        return df
    return (
        pl.from_pandas(df) if hasattr(df, "to_numpy") and hasattr(df, "iloc") else pl.DataFrame(df)
    )


def by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def groups(frame: pl.DataFrame, by: list[str]) -> Iterator[tuple[tuple, pl.DataFrame]]:
    """The rows of each group, groups in sorted order (one group when ``by`` is empty)."""
    if not by:
        yield (), frame
        return
    for key, part in frame.sort(by).group_by(by, maintain_order=True):
        yield tuple(key), part


def distinct_times(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct times in order and each row's position among them: exactly
    ``np.unique(t, return_inverse=True)``, in linear time when every time is a whole number
    in a range not much wider than the number of rows (days, the usual case): a count per
    value instead of a sort."""
    if t.size:
        low, high = t.min(), t.max()
        if np.isfinite(low) and np.isfinite(high) and high - low <= max(4 * t.size, 1 << 16):
            whole = t.astype(np.int64)
            if (whole == t).all():  # whole numbers, held exactly (|t| < 2**53 here)
                shift = whole - int(low)
                present = np.bincount(shift, minlength=int(high - low) + 1) > 0
                position = np.cumsum(present) - 1
                times = (np.flatnonzero(present) + int(low)).astype(t.dtype)
                return times, position[shift]
    return np.unique(t, return_inverse=True)


def check_columns(frame: pl.DataFrame, *names: str | None) -> None:
    missing = [n for n in names if n is not None and n not in frame.columns]
    if missing:
        raise ValueError(f"columns not in the data: {', '.join(missing)}")


def time_event(frame: pl.DataFrame, time: str, event: str) -> tuple[np.ndarray, np.ndarray]:
    t = frame[time].cast(pl.Float64).to_numpy()
    e = frame[event].cast(pl.Float64).to_numpy()
    if np.isnan(t).any() or np.isnan(e).any():
        raise ValueError(f"{time} and {event} must not be empty; drop those rows first")
    if (t < 0).any():
        raise ValueError(f"{time} must not be negative")
    return t, e


def confint(
    s: np.ndarray, se_log: np.ndarray, conf_type: ConfType, conf_level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval of a survival curve from the SE of its log (R's survfit_confint)."""
    z = z_value(conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = z * se_log * s
            return np.maximum(s - half, 0.0), np.minimum(s + half, 1.0)
        if conf_type == "log":
            x = np.where(s == 0, np.nan, s)
            return np.exp(np.log(x) - z * se_log), np.minimum(np.exp(np.log(x) + z * se_log), 1.0)
        if conf_type == "log-log":
            x = np.where((s == 0) | (s == 1), np.nan, s)
            se2 = z * se_log / np.log(x)
            return np.exp(-np.exp(np.log(-np.log(x)) - se2)), np.exp(
                -np.exp(np.log(-np.log(x)) + se2)
            )
    raise ValueError('conf_type must be "log", "log-log" or "plain"')
