"""An attacker with only the published files: it solves for every withheld count.

Given the tidy tables of one or more reports (the ``tables/*.csv`` the report writes: ``table,
period, program, band, measure, value, ci_low, ci_high, numerator, denominator, status``), it
names a whole-number unknown for every count the tables speak of (the discharges of a group,
a rate's numerator and denominator, the episodes followed and the events by a horizon), sets
what was published, and adds what anyone reading the definitions in docs/metrics.md knows:

- the length bands of a program add up to the program, the programs to "all programs", the
  four quarters to their trailing year, the discharge reasons to the discharges, completed
  and transferred to "completed or transferred";
- a rate's denominator is its group's discharges (completion, dropout, reasons) or at most
  that (windowed rates, dose); a numerator is at most its denominator; a withheld count marked
  small lies in 1..threshold-1, a cell withheld to protect another is at least threshold;
- early dropouts are among those who left early; longer windows have no larger cohort and no
  fewer events; those followed at a horizon, and the events by then, are at most the discharges;
- an observed-to-expected ratio (``completion_oe_*``, docs/national.md) counts the group's
  completions over its discharges; the expected completions beside it are not a count.

The national reference lines (``table`` = ``teds_d``) are TEDS-D's counts, not the provider's:
they are left out.

For every count behind a withheld cell, and for the complement ``denominator - numerator``
of every rate, it finds the smallest and largest whole value consistent with all of that
(an integer program, solved with HiGHS). A value pinned to one number in 1..threshold-1 is a
disclosure. This is independent of the product's own audit (which works on the episodes).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import sparse

from outcomes.schema import DISCHARGE_REASONS as REASONS

SAME_DENOMINATOR = (
    "completion_rate",
    "completion_or_transfer_rate",
    "early_dropout_rate",
    *(f"discharge_reason_{r}" for r in REASONS),
)


@dataclass
class Attack:
    threshold: int
    names: dict[tuple, int] = field(default_factory=dict)
    rows: list[tuple[dict[int, float], float, float]] = field(default_factory=list)
    family: list[str] = field(default_factory=list)
    direct: list[tuple[str, int]] = field(default_factory=list)
    tag: str = "published"
    targets: list[tuple[str, dict[int, float], float | None]] = field(default_factory=list)

    def var(self, period, program, band, part) -> int:
        key = (period, program, band or None, part)
        return self.names.setdefault(key, len(self.names))

    def constrain(self, coef: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append((coef, lo, hi))
        self.family.append(self.tag)


def _quarters(ty: str) -> list[str]:
    last = ty.split("-")[1]
    year, q = int(last[:4]), int(last[-1])
    out = []
    for _ in range(4):
        out.append(f"{year}Q{q}")
        year, q = (year, q - 1) if q > 1 else (year - 1, 4)
    return out[::-1]


def build(cells: pl.DataFrame, threshold: int, curves: pl.DataFrame | None = None) -> Attack:
    """The attacker's integer program from published tidy cells (any number of reports), and
    the data behind the Kaplan-Meier charts (``tables/figure_readmission.csv``) when given."""
    a = Attack(threshold)
    cells = cells.filter(~pl.col("table").is_in(["data_quality", "teds_d"])).unique(
        subset=["table", "period", "program", "band", "measure"], keep="first"
    )
    big = 10**7
    for r in cells.iter_rows(named=True):
        p, prog, band, m, status = r["period"], r["program"], r["band"], r["measure"], r["status"]
        discharges = a.var(p, prog, band, "discharges")
        if m == "discharges":
            num, den = None, discharges
        elif m.startswith(("readmission_by_", "relapse_by_")):
            num, den = a.var(p, prog, band, f"{m}:events"), a.var(p, prog, band, f"{m}:followed")
            # (an event on day h is both counted by h and still followed at h)
            a.constrain({num: 1, discharges: -1}, -big, 0)
            a.constrain({den: 1, discharges: -1}, -big, 0)
        elif m in ("median_los_days", "attendance_rate", "mean_weekly_hours") or m.startswith(
            "completion_expected_"
        ):
            num, den = None, None
        elif m.startswith("completion_oe_"):  # observed completions over the discharges
            num, den = a.var(p, prog, band, "completion_rate:num"), discharges
        else:
            num, den = a.var(p, prog, band, f"{m}:num"), a.var(p, prog, band, f"{m}:den")
            if m in SAME_DENOMINATOR:
                a.constrain({den: 1, discharges: -1}, 0, 0)
            else:
                a.constrain({den: 1, discharges: -1}, -big, 0)
        if num is not None and not m.startswith(("readmission_by_", "relapse_by_")):
            a.constrain({num: 1, den: -1}, -big, 0)
        if status == "published":
            if num is not None and r["numerator"] is not None:
                a.constrain({num: 1}, r["numerator"], r["numerator"])
            if den is not None and r["denominator"] is not None:
                a.constrain({den: 1}, r["denominator"], r["denominator"])
            if m == "discharges" and r["denominator"] is None and r["value"] is not None:
                a.constrain({den: 1}, r["value"], r["value"])
            if num is not None and not m.startswith(("readmission_by_", "relapse_by_")):
                what = f"{p} {prog} {band or ''} {m}: complement"
                if r["numerator"] is not None and r["denominator"] is not None:
                    a.direct.append((what, r["denominator"] - r["numerator"]))
                else:
                    a.targets.append((what, {den: 1, num: -1}, None))
        elif status == "small_count":
            target = num if (num is not None) else den
            if target is not None:
                a.constrain({target: 1}, 1, threshold - 1)
                a.targets.append((f"{p} {prog} {band or ''} {m}", {target: 1}, None))
        elif status == "small_group" and den is not None:
            a.constrain({den: 1}, 1, threshold - 1)
            a.targets.append((f"{p} {prog} {band or ''} {m}: group", {den: 1}, None))
        # a cell withheld to protect another holds 11 or more: pinning it discloses nothing
        elif status in ("none", "not_observable") and den is not None:
            a.constrain({den: 1}, 0, 0)
    if curves is not None:
        a.tag = "curves"
        _curves(a, cells, curves.unique(subset=["period", "program", "part", "time"]))
        a.tag = "published"
    _definitions(a)
    return a


#: The rounding of the drawn curves (0.1 percentage point).
CURVE_ROUNDING = 0.0005


def _curves(a: Attack, cells: pl.DataFrame, curves: pl.DataFrame) -> None:
    """What a Kaplan-Meier chart's data tells (steps as the share readmitted by each day,
    rounded; the numbers still followed at the ticks), read with what Kaplan-Meier means.

    Between two known points of a curve (its start, a drawn step, a horizon of the
    readmission table), the D readmissions in between satisfy, with r the ratio of the two
    survival values (within their rounding):
    ``n(after) * (1 - r) <= D <= n(before) * -ln(r)``, where ``n(before)`` is the number at
    risk at the last tick at or before the first point (no risk set between is larger) and
    ``n(after)`` that at the first tick at or after the second (no risk set between is
    smaller; day 0's is the cohort: the discharges less those who died, docs/metrics.md);
    all are unknowns tied to the risk table and the readmission table. Each such D is a
    target, and so are the deaths.
    """
    km = {}
    for r in cells.filter(pl.col("table") == "readmission_km").iter_rows(named=True):
        if r["measure"].startswith("readmission_by_") and r["value"] is not None:
            h = int(r["measure"].removeprefix("readmission_by_").removesuffix("d"))
            km[(r["period"], r["program"], h)] = r["value"]
    for (ty, prog), part in curves.partition_by(["period", "program"], as_dict=True).items():
        discharges = a.var(ty, prog, None, "discharges")
        died = a.var(ty, prog, None, "discharge_reason_died:num")
        n0 = a.var(ty, prog, None, "curve:at_risk_0")
        a.constrain({n0: 1, died: 1, discharges: -1}, 0, 0)
        a.targets.append((f"{ty} {prog} deaths (discharges - at risk at day 0)", {died: 1}, None))

        def at_risk(tick, ty=ty, prog=prog, n0=n0):
            return n0 if tick == 0 else a.var(ty, prog, None, f"readmission_by_{tick}d:followed")

        table = part.filter(pl.col("part") == "at_risk").sort("time")
        ticks = sorted({0, *(int(t) for t in table["time"])})
        for r in table.iter_rows(named=True):
            if r["status"] == "published":  # as the readmission table: exact
                a.constrain({at_risk(int(r["time"])): 1}, r["at_risk"], r["at_risk"])
        for t1, t2 in itertools.pairwise(ticks):
            a.constrain({at_risk(t2): 1, at_risk(t1): -1}, -(10**7), 0)
        # known points: (time, share readmitted, its rounding, events-by-then variable)
        points = [(-1.0, 0.0, 0.0, None)]
        for r in part.filter(pl.col("part") == "step", pl.col("time") > 0).iter_rows(named=True):
            v = a.var(ty, prog, None, f"curve:{r['time']:g}:events")
            points.append((r["time"], r["estimate"], CURVE_ROUNDING, v))
        for h in ticks:
            if (ty, prog, h) in km:
                v = a.var(ty, prog, None, f"readmission_by_{h}d:events")
                points.append((float(h), km[(ty, prog, h)], 1e-9, v))
        points.sort(key=lambda p: (p[0], p[3] is not None))
        for _, _, _, v in points[1:]:
            a.constrain({v: 1, n0: -1}, -(10**7), 0)
        for (ta, fa, ea, va), (tb, fb, eb, vb) in itertools.pairwise(points):
            d = {vb: 1.0} if va is None else {vb: 1.0, va: -1.0}
            a.constrain(d, 0, 10**7)
            r_lo = max((1 - fb - eb) / (1 - fa + ea), 1e-12)
            r_hi = min((1 - fb + eb) / (1 - fa - ea), 1.0)
            before = [t for t in ticks if t <= max(ta, 0)]
            after = [t for t in ticks if t >= tb]
            if before:
                coef = dict(d)
                coef[at_risk(before[-1])] = coef.get(at_risk(before[-1]), 0) + np.log(r_lo)
                a.constrain(coef, -(10**7), 1e-9)
            if after and r_hi < 1:
                coef = dict(d)
                coef[at_risk(after[0])] = coef.get(at_risk(after[0]), 0) - (1 - r_hi)
                a.constrain(coef, -1e-9, 10**7)
            a.targets.append(
                (f"{ty} {prog} readmissions in days ({max(ta, 0):g}, {tb:g}]", d, None)
            )


def _definitions(a: Attack) -> None:
    """What the definitions of the metrics say about sums and order."""
    keys = list(a.names)
    programs: dict[str, set[str]] = {}
    bands: dict[tuple, set[str]] = {}
    for period, program, band, _ in keys:
        if program != "all programs":
            programs.setdefault(period, set()).add(program)
        if band is not None:
            bands.setdefault((period, program), set()).add(band)
    parts = {k[3] for k in keys}

    def total_of(coef_total: int, members: list[int]) -> None:
        coef = {coef_total: 1.0}
        for v in members:
            coef[v] = coef.get(v, 0.0) - 1.0
        a.constrain(coef, 0, 0)

    for period, program, band, part in keys:
        if band is None and program == "all programs":
            # all programs is every program of the export (one unseen in a period is unknown)
            every = sorted(set().union(*programs.values()))
            members = [a.var(period, p, None, part) for p in every]
            total_of(a.names[(period, program, band, part)], members)
        if band is None and program != "all programs" and (period, program) in bands:
            members = [a.var(period, program, b, part) for b in sorted(bands[(period, program)])]
            total_of(a.names[(period, program, band, part)], members)
        if "-" in period:
            members = [a.var(q, program, band, part) for q in _quarters(period)]
            total_of(a.names[(period, program, band, part)], members)
    keys = list(a.names)
    for period, program, band, part in keys:
        if part != "discharges":
            continue

        def name(suffix, where=(period, program, band)):
            return a.names.get((*where, suffix))

        reasons = [name(f"discharge_reason_{r}:num") for r in REASONS]
        if all(v is not None for v in reasons):
            total_of(a.names[(period, program, band, part)], reasons)
        cot, done, moved = (
            name("completion_or_transfer_rate:num"),
            name("completion_rate:num"),
            name("discharge_reason_transferred:num"),
        )
        if None not in (cot, done, moved):
            a.constrain({cot: 1, done: -1, moved: -1}, 0, 0)
        early, left = name("early_dropout_rate:num"), name("discharge_reason_left_early:num")
        if None not in (early, left):
            a.constrain({early: 1, left: -1}, -(10**7), 0)
        if None not in (done, name("discharge_reason_completed:num")):
            a.constrain({done: 1, name("discharge_reason_completed:num"): -1}, 0, 0)
    # longer windows: no larger cohorts
    for kind, windows in (("readmission", (30, 90, 180, 365)), ("step_down", (7, 14, 30))):
        for period, program, band, part in keys:
            if part != f"{kind}_{windows[0]}d:den":
                continue
            for w1, w2 in itertools.pairwise(windows):
                d1 = a.names.get((period, program, band, f"{kind}_{w1}d:den"))
                d2 = a.names.get((period, program, band, f"{kind}_{w2}d:den"))
                if None not in (d1, d2):
                    a.constrain({d2: 1, d1: -1}, -(10**7), 0)
    del parts


@dataclass(frozen=True)
class Finding:
    what: str
    value: int


def solve(a: Attack, time_limit: float = 10.0) -> list[Finding]:
    """Every target pinned to one whole number in 1..threshold-1 (HiGHS' integer program,
    the model built once and re-solved for each target's minimum and maximum).

    Exact, with shortcuts that decide nothing by themselves: a target on which two of the
    whole-number solutions met so far differ is not pinned; one can only be pinned at the
    value they share, so one whose value lies outside 1..threshold-1 is skipped; the linear
    relaxation's optimum in a direction, when it is that value or is reached at a whole
    solution, settles that direction without the integer program."""
    import highspy

    findings = [Finding(what, v) for what, v in a.direct if 1 <= v <= a.threshold - 1]
    n = len(a.names)
    if not n or not a.targets:
        return findings
    ri, ci, vals = [], [], []
    lo = np.empty(len(a.rows))
    hi = np.empty(len(a.rows))
    for i, (coef, low, high) in enumerate(a.rows):
        for j, c in coef.items():
            ri.append(i)
            ci.append(j)
            vals.append(c)
        lo[i], hi[i] = low, high
    mat = sparse.csr_matrix((vals, (ri, ci)), shape=(len(a.rows), n)).tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, len(a.rows)
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.full(n, highspy.kHighsInf)
    lp.row_lower_ = lo
    lp.row_upper_ = np.where(hi >= 10**7, highspy.kHighsInf, hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
    lp.a_matrix_.index_ = mat.indices.astype(np.int32)
    lp.a_matrix_.value_ = mat.data.astype(float)
    relaxed = highspy.Highs()  # the linear relaxation, re-solved warm for every target
    relaxed.setOptionValue("output_flag", False)
    relaxed.passModel(lp)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", time_limit)
    h.passModel(lp)
    cols = np.arange(n, dtype=np.int32)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        # the truth satisfies every constraint: an infeasible program is a wrong constraint
        raise AssertionError(
            f"the attacker's program has no solution: {h.modelStatusToString(h.getModelStatus())}"
        )
    unbounded = (
        highspy.HighsModelStatus.kUnbounded,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    )
    # whole-number solutions found so far: a target on which two of them differ is not
    # pinned, whatever its optima (the first: the feasibility solve above)
    pool = [np.round(np.asarray(h.getSolution().col_value))]

    def optimum(model, c, sense):
        """The optimum of c @ x (None when unbounded) and its solution."""
        model.changeColsCost(n, cols, c)
        model.changeObjectiveSense(sense)
        model.run()
        status = model.getModelStatus()
        if status in unbounded:
            return None, None
        if status != highspy.HighsModelStatus.kOptimal:
            raise AssertionError(f"the attacker could not settle a target: {status}")
        return model.getInfo().objective_function_value, np.asarray(model.getSolution().col_value)

    def whole(x) -> bool:
        return bool(np.all(np.abs(x - np.round(x)) < 1e-6))

    minimise, maximise = highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize
    seen = set()
    for what, coef, _ in a.targets:
        key = tuple(sorted(coef.items()))
        if key in seen:
            continue
        seen.add(key)
        c = np.zeros(n)
        for j, v in coef.items():
            c[j] = v
        known = [float(c @ x) for x in pool]
        if max(known) - min(known) > 0.5:
            continue  # two whole solutions disagree: not pinned
        value = round(known[0])  # the only value it can be pinned at
        if not 1 <= value <= a.threshold - 1:
            continue
        # the relaxation first: its optima bound the integer ones, and are theirs when whole
        pinned = True
        for sense, step in ((minimise, -1), (maximise, 1)):
            bound, x = optimum(relaxed, c, sense)
            if bound is None:
                pinned = False
                break
            if (bound - (value + step)) * step < -1e-6:
                continue  # not even the relaxation reaches the next whole value this way
            if whole(x):  # a whole solution at the relaxation's optimum: another value
                pool.append(np.round(x))
                pinned = False
                break
            best, x = optimum(h, c, sense)
            pool.append(np.round(x))
            if best is None or abs(best - value) > 0.5:
                pinned = False
                break
        if pinned:
            findings.append(Finding(what, value))
    return findings
