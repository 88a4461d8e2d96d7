"""Generated TEDS-D public-use files (PUF-shaped), with 2019's margins and planted differences.

No row is real. Every one of the 76 columns is drawn so that its margin is the 2019 codebook's
(:func:`outcomes.national._codes.codebook`) **exactly** (largest-remainder allocation of the
codebook frequencies to ``n`` rows, then shuffled), independently of the others, except:

* ``REASON`` depends on the setting, the state and the case-mix (:class:`Planted`): a discharge
  is completed with probability ``base[SERVICES_D] + state_difference[STFIPS] +
  sum(casemix_difference[(column, code)])`` (additive on the probability scale, never near 0 or
  1, so every group's true rate is a weighted sum of margins: :func:`planted_rates`); any other
  discharge gets reason 2-7 in 2019's proportions among discharges not completed. ``base`` is
  set so that the rate of each setting, averaged over states and case-mix, is
  ``Planted.completion`` (which itself averages to 2019's 42.1%).
* ``LOS`` depends on the setting: a stay lasts ``1 + floor(X)`` days, ``X`` exponential with the
  setting's mean (``Planted.los_mean_days``), so ``P(days <= k) = 1 - exp(-k / mean)``; the days
  are then coded as the PUF codes them (1-30, then the ranged codes 31-37).

:func:`to_layout` turns the 2015-2022 coding into another year's layout and :func:`write`
writes any supported format.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import polars as pl

from outcomes.national._codes import LOS_RANGES, PUF_COLUMNS, codebook, text_label

#: Share of each reason 2-7 among 2019 discharges that were not completed (codebook counts).
_NOT_COMPLETED = {2: 432_610, 3: 95_254, 4: 369_503, 5: 26_005, 6: 3_576, 7: 69_626}
NOT_COMPLETED_SHARE = {k: v / sum(_NOT_COMPLETED.values()) for k, v in _NOT_COMPLETED.items()}


def _frozen(mapping: Mapping) -> MappingProxyType:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Planted:
    """The planted truth of a generated PUF.

    completion
        Completion rate of each setting (SERVICES_D code), averaged over states and case-mix.
        The defaults average, with 2019's setting frequencies, to 2019's 42.1%.
    state_difference
        Added to the completion probability in these states (FIPS code): New York 10 points
        lower, North Carolina 8 points higher.
    casemix_difference
        Added to the completion probability for a case-mix code: co-occurring disorder
        (PSYPROB 1), prior treatment (NOPRIOR 1), heroin (SUB1 5), age 21-24 (AGE 4) lower;
        court referral (PSOURCE 7) higher.
    los_mean_days
        Mean of the exponential behind each setting's length of stay.
    """

    completion: Mapping[int, float] = field(
        default_factory=lambda: _frozen(
            {1: 0.70, 2: 0.60, 3: 0.65, 4: 0.55, 5: 0.45, 6: 0.38, 7: 0.336, 8: 0.55}
        )
    )
    state_difference: Mapping[int, float] = field(
        default_factory=lambda: _frozen({36: -0.10, 37: 0.08})
    )
    casemix_difference: Mapping[tuple[str, int], float] = field(
        default_factory=lambda: _frozen(
            {
                ("PSYPROB", 1): -0.05,
                ("NOPRIOR", 1): -0.04,
                ("SUB1", 5): -0.06,
                ("PSOURCE", 7): 0.05,
                ("AGE", 4): -0.03,
            }
        )
    )
    los_mean_days: Mapping[int, float] = field(
        default_factory=lambda: _frozen(
            {1: 4.0, 2: 5.0, 3: 14.0, 4: 22.0, 5: 60.0, 6: 55.0, 7: 110.0, 8: 6.0}
        )
    )


def margins(column: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``column`` and their 2019 share (codebook frequency / 1,722,503)."""
    table = codebook().filter(pl.col("column") == column)
    values = table["value"].to_numpy()
    freq = table["frequency"].to_numpy().astype(float)
    return values, freq / freq.sum()


def _mean_shift(planted: Planted, states: bool = True, casemix: bool = True) -> float:
    """Expected value, under 2019's margins, of the state and case-mix additions."""
    shift = 0.0
    if states:
        codes, share = margins("STFIPS")
        pairs = zip(codes, share, strict=True)
        shift += sum(planted.state_difference.get(int(c), 0.0) * s for c, s in pairs)
    if casemix:
        for (column, code), diff in planted.casemix_difference.items():
            codes, share = margins(column)
            shift += diff * float(share[codes == code].sum())
    return shift


def _base(planted: Planted) -> dict[int, float]:
    shift = _mean_shift(planted)
    return {s: rate - shift for s, rate in planted.completion.items()}


def planted_rates(planted: Planted | None = None, by_state: bool = False) -> pl.DataFrame:
    """The true rates of a generated file, per setting (and state).

    Returns ``service_code`` (and ``state_code``), ``completion``, ``completion_or_transfer``,
    ``dropped_out``, ``terminated``: the expected share of discharges under :class:`Planted`
    and 2019's margins (closed form: the model is additive in the probability scale).
    """
    planted = planted or Planted()
    base = _base(planted)
    rows = []
    states = margins("STFIPS")[0] if by_state else [None]
    casemix = _mean_shift(planted, states=False)
    for service, b in base.items():
        for state in states:
            if state is None:
                p = b + _mean_shift(planted)
            else:
                p = b + planted.state_difference.get(int(state), 0.0) + casemix
            row = {"service_code": service}
            if state is not None:
                row["state_code"] = int(state)
            row |= {
                "completion": p,
                "completion_or_transfer": p + (1 - p) * NOT_COMPLETED_SHARE[4],
                "dropped_out": (1 - p) * NOT_COMPLETED_SHARE[2],
                "terminated": (1 - p) * NOT_COMPLETED_SHARE[3],
            }
            rows.append(row)
    return pl.DataFrame(rows)


def _exact_draw(values: np.ndarray, share: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` values whose counts are ``n * share`` rounded by largest remainder, shuffled."""
    raw = share * n
    counts = np.floor(raw).astype(np.int64)
    short = n - counts.sum()
    if short:
        counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    return rng.permutation(np.repeat(values, counts))


def los_code(days: np.ndarray) -> np.ndarray:
    """PUF LOS code of a stay in days (1-30 as such, then the ranged codes 31-37)."""
    code = np.minimum(days, 30)
    for c, (low, _high) in LOS_RANGES.items():
        code = np.where(days >= low, c, code)
    return code


def generate(
    n: int, *, seed: int, year: int = 2019, planted: Planted | None = None
) -> pl.DataFrame:
    """A PUF-shaped TEDS-D discharge file of ``n`` rows, coded as the 2015-2022 files are.

    Parameters
    ----------
    n : int
        Rows (discharges).
    seed : int
        Seed of ``numpy.random.default_rng``.
    year : int
        ``DISYR`` of every row.
    planted : Planted, optional
        The planted truth (default :class:`Planted`).

    Returns
    -------
    polars.DataFrame
        The 76 PUF columns (:data:`~outcomes.national._codes.PUF_COLUMNS`) in file order, all
        Int64: ``CASEID`` unique, ``DISYR`` = ``year``, ``CBSA2010`` -9, every other column at
        2019's margins (exactly, up to rounding) with ``REASON`` and ``LOS`` as planted.

    Examples
    --------
    >>> puf = generate(1000, seed=1)
    >>> puf.shape, puf["DISYR"].unique().to_list()
    ((1000, 76), [2019])
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    planted = planted or Planted()
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for column in PUF_COLUMNS:
        if column in ("CASEID", "DISYR", "CBSA2010", "REASON", "LOS"):
            continue
        data[column] = _exact_draw(*margins(column), n, rng)
    data["CASEID"] = np.int64(year) * 10_000_000 + np.arange(1, n + 1)
    data["DISYR"] = np.full(n, year)
    data["CBSA2010"] = np.full(n, -9)
    service = data["SERVICES_D"]
    base = _base(planted)
    p = np.vectorize(lambda s: base[int(s)])(service).astype(float)
    for state, diff in planted.state_difference.items():
        p += diff * (data["STFIPS"] == state)
    for (column, code), diff in planted.casemix_difference.items():
        p += diff * (data[column] == code)
    completed = rng.random(n) < p
    other = rng.choice(list(NOT_COMPLETED_SHARE), size=n, p=list(NOT_COMPLETED_SHARE.values()))
    data["REASON"] = np.where(completed, 1, other)
    mean = np.vectorize(lambda s: planted.los_mean_days[int(s)])(service).astype(float)
    days = 1 + np.floor(rng.exponential(mean)).astype(np.int64)
    data["LOS"] = los_code(days)
    return pl.DataFrame({c: data[c].astype(np.int64) for c in PUF_COLUMNS})


LAYOUTS = ("2015-2022", "2006-2014", "2021", "2023")


def to_layout(puf: pl.DataFrame, layout: str, seed: int = 0) -> pl.DataFrame:
    """Recode a 2015-2022-coded PUF as another year's file does.

    ``2006-2014``: SERVSETD instead of SERVICES_D; AGE shifted by one with 55-64 and 65+ as one
    code 12 ("55 and over"); ETHNIC 1-6 (Cuban and other specific Hispanic split, the rest
    renumbered); NOPRIOR counts 1-5 episodes; SUB1 "other" is 20; RACE 6-9 are 13, 20, 21, 23.
    ``2021``: every coded column as its 2021 value label text (a code the labels do not name
    stays its number, as text), written as latin-1.
    ``2023``: GENDER renamed SEX, a CBSA2020 column after CBSA2010.
    """
    if layout == "2015-2022":
        return puf
    if layout == "2006-2014":
        rng = np.random.default_rng(seed)
        n = puf.height
        age = pl.col("AGE")
        ethnic = pl.col("ETHNIC")
        split = pl.Series(rng.random(n) < 0.5)
        return puf.with_columns(
            AGE=pl.when(age <= 10).then(age + 1).when(age >= 11).then(12).otherwise(age),
            ETHNIC=pl.when(ethnic == 3)
            .then(pl.when(split).then(3).otherwise(4))
            .when(ethnic.is_in([4, 5]))
            .then(ethnic + 1)
            .otherwise(ethnic),
            NOPRIOR=pl.when(pl.col("NOPRIOR") == 1)
            .then(pl.Series(rng.integers(1, 6, n)))
            .otherwise(pl.col("NOPRIOR")),
            SUB1=pl.col("SUB1").replace({19: 20}),
            RACE=pl.col("RACE").replace({6: 13, 7: 20, 8: 21, 9: 23}),
        ).rename({"SERVICES_D": "SERVSETD"})
    if layout == "2021":
        exprs = []
        for column in puf.columns:
            if column in ("CASEID", "DISYR"):
                continue
            codes = puf[column].unique().to_list()
            labels = {c: text_label(column, c, 2021) for c in codes}
            if any(labels.values()):  # a code without a 2021 label stays a number, as text
                labels = {c: label or str(c) for c, label in labels.items()}
                exprs.append(pl.col(column).replace_strict(labels, return_dtype=pl.String))
        return puf.with_columns(exprs)
    if layout == "2023":
        at = puf.columns.index("CBSA2010") + 1
        out = puf.rename({"GENDER": "SEX"}).with_columns(CBSA2020=pl.col("CBSA2010"))
        return out.select([*out.columns[:at], "CBSA2020", *out.columns[at:-1]])
    raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")


FORMATS = (".csv", ".zip", ".parquet", ".dta", ".sav", ".xpt")


def write(puf: pl.DataFrame, path: str | Path, layout: str = "2015-2022", seed: int = 0) -> Path:
    """Write a generated PUF in the format its suffix names, in a year's ``layout``.

    ``.csv`` (latin-1 for the 2021 layout, else UTF-8), ``.zip`` (the CSV inside, as SAMHSA
    ships it), ``.parquet``, ``.dta`` (Stata), ``.sav`` (SPSS), ``.xpt`` (SAS transport,
    version 8). SAS's own ``.sas7bdat`` cannot be written (the reader reads it).
    """
    import pyreadstat

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot write {suffix or 'a file without suffix'}: use {FORMATS}")
    frame = to_layout(puf, layout, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = "latin-1" if layout == "2021" else "utf-8"
    if suffix == ".csv":
        path.write_bytes(frame.write_csv().encode(encoding))
    elif suffix == ".zip":
        member = f"{path.stem}.csv"
        buffer = io.BytesIO(frame.write_csv().encode(encoding))
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(member, buffer.getvalue())
    elif suffix == ".parquet":
        frame.write_parquet(path)
    elif suffix == ".dta":
        pyreadstat.write_dta(frame, str(path))
    elif suffix == ".sav":
        pyreadstat.write_sav(frame, str(path))
    else:
        pyreadstat.write_xport(frame, str(path), file_format_version=8, table_name="TEDSD")
    return path
