"""Positivity and overlap: weight diagnostics per program, and the warnings they call for."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

DIAGNOSTIC_COLUMNS = (
    "group",
    "n",
    "ps_min",
    "ps_median",
    "ps_max",
    "share_ps_extreme",
    "weight_sum",
    "weight_max",
    "ess",
    "ess_share",
    "top1_weight_share",
)
#: A propensity outside [EXTREME_PS, 1 - EXTREME_PS] is an episode hardly comparable.
EXTREME_PS = 0.05
#: Warn when more than this share of a group's episodes have an extreme propensity, ...
MAX_SHARE_EXTREME = 0.05
#: ... when the weights leave less than this share of a group as effective sample, ...
MIN_ESS_SHARE = 0.5
#: ... or when the top 1% of a group's episodes carry more than this share of its weight.
MAX_TOP1_SHARE = 0.10
REMEDIES = (
    "consider trimming extreme propensities (trim=(1, 99); --trim 1,99), the effect on the "
    "treated (estimand ATT; --estimand att), or restricting the comparison to clients both "
    "programs serve"
)


def _top_share(w: np.ndarray) -> float:
    """Share of the weight sum carried by the heaviest 1% of rows (at least one row)."""
    k = max(1, math.ceil(w.size / 100))
    return float(np.sort(w)[-k:].sum() / w.sum())


def weight_diagnostics(weighted: pl.DataFrame) -> pl.DataFrame:
    """Overlap and weight diagnostics per group.

    Parameters
    ----------
    weighted : polars.DataFrame
        Rows with ``treated`` (bool), ``ps`` and ``weight`` (:func:`outcomes.compare.iptw`).

    Returns
    -------
    polars.DataFrame
        :data:`DIAGNOSTIC_COLUMNS`, one row per group (``treated``, then ``control``):
        ``n``; ``ps_min, ps_median, ps_max``; ``share_ps_extreme`` (propensity below
        :data:`EXTREME_PS` or above ``1 - EXTREME_PS``); ``weight_sum, weight_max``; ``ess``,
        the effective sample size ``(sum w)^2 / sum w^2`` (Kish), and ``ess_share`` = ess / n;
        ``top1_weight_share``, the share of the group's weight carried by its heaviest 1% of
        episodes.

    References
    ----------
    Austin PC, Stuart EA (2015), Stat Med 34:3661-3679 (weight diagnostics); Crump RK et al.
    (2009), Biometrika 96:187-199 (limited overlap).
    """
    rows = []
    for group, treated in (("treated", True), ("control", False)):
        part = weighted.filter(pl.col("treated") == treated)
        ps, w = part["ps"].to_numpy(), part["weight"].to_numpy()
        if not ps.size:
            continue
        ess = float(w.sum() ** 2 / (w**2).sum())
        rows.append(
            (
                group,
                int(ps.size),
                float(ps.min()),
                float(np.median(ps)),
                float(ps.max()),
                float(((ps < EXTREME_PS) | (ps > 1 - EXTREME_PS)).mean()),
                float(w.sum()),
                float(w.max()),
                ess,
                ess / ps.size,
                _top_share(w),
            )
        )
    return pl.DataFrame(rows, schema=list(DIAGNOSTIC_COLUMNS), orient="row")


def overlap_warnings(diagnostics: pl.DataFrame, treatment: str, control: str) -> tuple[str, ...]:
    """One sentence per problem the diagnostics show (poor overlap, a small effective sample,
    weights concentrated on few episodes), each ending with what to do; empty when none."""
    names = {"treated": treatment, "control": control}
    found = []
    for r in diagnostics.iter_rows(named=True):
        program = names[r["group"]]
        if r["share_ps_extreme"] > MAX_SHARE_EXTREME:
            found.append(
                f"poor overlap: {r['share_ps_extreme']:.0%} of {program} episodes have a "
                f"propensity below {EXTREME_PS:.2f} or above {1 - EXTREME_PS:.2f} (clients "
                "the other program hardly serves)"
            )
        if r["ess_share"] < MIN_ESS_SHARE:
            found.append(
                f"the weights leave an effective sample of {r['ess']:.0f} of {r['n']} {program} "
                f"episodes ({r['ess_share']:.0%})"
            )
        if r["top1_weight_share"] > MAX_TOP1_SHARE:
            found.append(
                f"extreme weights: the heaviest 1% of {program} episodes carry "
                f"{r['top1_weight_share']:.0%} of the group's weight"
            )
    return tuple(f"Warning: {f}; {REMEDIES}." for f in found)


def overlap_density(weighted: pl.DataFrame, points: int = 101) -> pl.DataFrame:
    """Smoothed distribution of the propensity per group, for the overlap chart: ``group,
    ps, density`` on an even grid over [0, 1] (Gaussian kernel, Silverman's bandwidth,
    reflected at 0 and 1). A density, not counts: it shows no number of episodes."""
    grid = np.linspace(0.0, 1.0, points)
    frames = []
    for group, treated in (("treated", True), ("control", False)):
        ps = weighted.filter(pl.col("treated") == treated)["ps"].to_numpy()
        if ps.size < 2:
            continue
        spread = min(ps.std(ddof=1), (np.percentile(ps, 75) - np.percentile(ps, 25)) / 1.34)
        h = max(0.9 * (spread if spread > 0 else ps.std(ddof=1) or 0.05) * ps.size**-0.2, 1e-3)
        # binned on 2,000 cells first, so the cost does not grow with the episodes
        counts, edges = np.histogram(ps, bins=2000, range=(0.0, 1.0))
        centres = (edges[:-1] + edges[1:]) / 2
        density = np.zeros_like(grid)
        for mirror in (centres, -centres, 2.0 - centres):
            u = (grid[:, None] - mirror[None, :]) / h
            density += np.exp(-0.5 * u**2) @ counts
        density /= ps.size * h * math.sqrt(2 * math.pi)
        frames.append(pl.DataFrame({"group": group, "ps": grid, "density": density}))
    return pl.concat(frames) if frames else pl.DataFrame(schema={"group": pl.String})
