"""Writing generated exports: a dataset at once (:func:`write`), or generated and written
block by block in bounded memory (:func:`export`), with the mistakes real exports have."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from outcomes.dataset import Dataset
from outcomes.synth._generate import BLOCK, blocks, generate
from outcomes.synth._model import Effects

_TABLES = ("enrollments", "attendance", "followups")


def write(
    ds: Dataset,
    out_dir: str | Path,
    fmt: str = "csv",
    messy: bool = False,
    seed: int = 0,
    style: str = "contract",
) -> Path:
    """Write a dataset as a provider export: ``enrollments``, ``attendance``, ``followups``.

    CSV: UTF-8, header row, ISO dates, ``true``/``false``, empty for missing. The same data
    gives byte-identical files. With ``messy``, the export carries the mistakes real exports
    have (see :func:`mess_up`), so the loader's reporting can be seen at work. With
    ``style="foreign"``, the export is shaped like a provider system's own (a workbook, a
    cp1252 CSV, its own names, labels and dates, rows written twice) and comes with its
    ``mapping.toml`` (see :func:`outcomes.synth.write_foreign`; with ``messy``, mistakes in the
    export's own terms). Returns the folder.
    """
    _check_options(fmt, style)
    if style == "foreign":
        from outcomes.synth._foreign import write_foreign

        return write_foreign(ds, out_dir, seed=seed, messy=messy)
    frames = {n: getattr(ds, n) for n in _TABLES}
    if messy:
        frames = mess_up(frames, seed)
    with _Export(out_dir, fmt, [n for n, f in frames.items() if f is not None]) as export:
        export.add(frames)
    return Path(out_dir)


def export(
    n_clients: int,
    seed: int,
    out_dir: str | Path,
    fmt: str = "csv",
    start: str | dt.date = "2024-01-01",
    end: str | dt.date = "2026-09-30",
    effects: Effects | None = None,
    messy: bool = False,
    style: str = "contract",
    progress: Callable[[str], None] | None = None,
    block: int = BLOCK,
) -> dict[str, int]:
    """Generate ``n_clients`` and write them as an export, one block of clients at a time.

    The files are those of ``write(generate(n_clients, seed, start, end, effects), out_dir,
    fmt, messy, seed, style)``, but only one block (:data:`BLOCK` clients) is in memory at
    once: each block's rows are appended to the CSV files (byte for byte what :func:`write`
    writes) or added to the Parquet files as row groups (the same rows and dtypes), so any
    number of clients can be written on one machine. With ``messy``, the mistakes of
    :data:`MESSY_PLANTED` are planted among the first block's rows (all of them up to
    :data:`BLOCK` clients, as :func:`write` plants them), and every block is written as text.
    ``style="foreign"`` writes one workbook from the whole dataset in memory, so it takes at
    most :data:`BLOCK` clients.

    Parameters
    ----------
    n_clients, seed, start, end, effects
        As for :func:`generate`.
    out_dir : str or Path
        Folder of the export (created; earlier files of the same tables are replaced).
    fmt, messy, style
        As for :func:`write`.
    progress : callable, optional
        Called with one line per block written (e.g. to print stages on stderr).
    block : int
        Clients per block; other than :data:`BLOCK` it gives other data (for tests).

    Returns
    -------
    dict
        Rows generated per table (``enrollments``, ``attendance``, ``followups``), before any
        planted mistake or repeated row.

    Examples
    --------
    >>> import tempfile
    >>> from outcomes import synth
    >>> with tempfile.TemporaryDirectory() as out:
    ...     rows = synth.export(200, seed=1, out_dir=out)
    >>> rows["enrollments"] == synth.generate(200, seed=1).enrollments.height
    True
    """
    _check_options(fmt, style)
    say = progress or (lambda line: None)
    if style == "foreign":
        if n_clients > BLOCK:
            raise ValueError(
                f'style="foreign" writes one workbook from data held in memory: at most '
                f"{BLOCK:,} clients"
            )
        ds = generate(n_clients, seed, start, end, effects)
        say(f"generated {n_clients:,} clients; writing the workbook and CSV files")
        write(ds, out_dir, messy=messy, seed=seed, style=style)
        return {n: getattr(ds, n).height for n in _TABLES}
    rows = dict.fromkeys(_TABLES, 0)
    n_blocks = -(-n_clients // block)
    with _Export(out_dir, fmt, _TABLES) as out:
        for k, ds in enumerate(blocks(n_clients, seed, start, end, effects, block)):
            frames = {n: getattr(ds, n) for n in _TABLES}
            for name, frame in frames.items():
                rows[name] += frame.height
            if messy:
                frames = mess_up(frames, seed) if k == 0 else _as_text(frames)
            out.add(frames)
            say(
                f"block {k + 1}/{n_blocks}: clients {k * block + 1:,}-"
                f"{min((k + 1) * block, n_clients):,}, {rows['enrollments']:,} episodes and "
                f"{rows['attendance']:,} sessions written so far"
            )
    return rows


def _check_options(fmt: str, style: str) -> None:
    if fmt not in ("csv", "parquet"):
        raise ValueError(f'fmt must be "csv" or "parquet", not {fmt!r}')
    if style not in ("contract", "foreign"):
        raise ValueError(f'style must be "contract" or "foreign", not {style!r}')
    if style == "foreign" and fmt != "csv":
        raise ValueError('style="foreign" writes its own formats; it takes no fmt="parquet"')


class _Export:
    """The files of an export, open for appending: CSV rows (one header) or Parquet row groups
    (the first frame's schema)."""

    def __init__(self, out_dir: str | Path, fmt: str, tables):
        self.out, self.fmt, self.tables = Path(out_dir), fmt, tuple(tables)
        self._files: dict = {}

    def __enter__(self) -> _Export:
        self.out.mkdir(parents=True, exist_ok=True)
        for name in self.tables:
            for old in self.out.glob(f"{name}.*"):
                old.unlink()
        return self

    def add(self, frames: dict[str, pl.DataFrame | None]) -> None:
        for name in self.tables:
            frame = frames[name]
            path = self.out / f"{name}.{self.fmt}"
            if self.fmt == "csv":
                if name not in self._files:
                    self._files[name] = path.open("wb")
                    frame.write_csv(self._files[name])
                else:
                    frame.write_csv(self._files[name], include_header=False)
            else:
                import pyarrow.parquet as pq

                table = frame.to_arrow()
                if name not in self._files:
                    self._files[name] = pq.ParquetWriter(path, table.schema, compression="zstd")
                writer = self._files[name]
                writer.write_table(table.cast(writer.schema))

    def __exit__(self, *exc) -> None:
        for f in self._files.values():
            f.close()


def _as_text(frames: dict[str, pl.DataFrame | None]) -> dict[str, pl.DataFrame | None]:
    """Enrollments and attendance as text, as :func:`mess_up` leaves them."""
    return {
        n: f.with_columns(pl.all().cast(pl.String)) if n in ("enrollments", "attendance") else f
        for n, f in frames.items()
    }


#: What :func:`mess_up` plants: file -> (rule, rows with it).
MESSY_PLANTED = {
    "enrollments": (("type", 2), ("duplicate_episode_id", 2), ("discharge_without_reason", 1)),
    "attendance": (("unknown_episode", 3), ("allowed_values", 2), ("session_outside_episode", 1)),
}


def mess_up(frames: dict[str, pl.DataFrame | None], seed: int) -> dict[str, pl.DataFrame | None]:
    """The frames as text, with the mistakes of :data:`MESSY_PLANTED` and some the loader
    forgives (codes in capitals, blanks around values), at rows drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    enr = frames["enrollments"].with_columns(pl.all().cast(pl.String))
    att = frames["attendance"].with_columns(pl.all().cast(pl.String))
    closed = enr.with_row_index("__i").filter(pl.col("discharge_date").is_not_null())["__i"]
    picks = rng.choice(closed.to_numpy(), 6, replace=False)
    us_date = (
        pl.col("admit_date").str.slice(5, 2)
        + "/"
        + pl.col("admit_date").str.slice(8, 2)
        + "/"
        + pl.col("admit_date").str.slice(0, 4)
    )
    idx = pl.int_range(pl.len())
    enr = enr.with_columns(
        pl.when(idx.is_in(picks[:2].tolist()))
        .then(us_date)
        .otherwise(pl.col("admit_date"))
        .alias("admit_date"),
        pl.when(idx == int(picks[2]))
        .then(None)
        .otherwise(pl.col("discharge_reason"))
        .alias("discharge_reason"),
        pl.when(idx.is_in(picks[3:].tolist()))
        .then(pl.col("program_type").str.to_uppercase())
        .otherwise(pl.col("program_type"))
        .alias("program_type"),
    )
    # an episode exported twice with a value changed in between: a key clash, not a copy (an
    # exact copy is kept once and would plant nothing that excludes rows)
    twice = enr[int(picks[5]) : int(picks[5]) + 1].with_columns(pl.col("client_id") + "0")
    enr = pl.concat([enr, twice])
    bounds = frames["enrollments"].select("episode_id", "discharge_date")
    chosen = (
        att.with_row_index("__i")
        .join(bounds, on="episode_id")
        .filter(
            ~pl.col("episode_id").is_in(enr[picks.tolist()]["episode_id"].implode()),
            pl.col("discharge_date").is_not_null(),
        )
    )
    rows = rng.choice(chosen["__i"].to_numpy(), 6, replace=False).tolist()
    late = chosen.filter(pl.col("__i") == rows[5])["discharge_date"].item() + dt.timedelta(60)
    att = att.with_columns(
        pl.when(idx.is_in(rows[:3]))
        .then(pl.lit("E99999999"))
        .otherwise(pl.col("episode_id"))
        .alias("episode_id"),
        pl.when(idx.is_in(rows[3:5]))
        .then(pl.lit("late"))
        .otherwise(pl.col("status"))
        .alias("status"),
        pl.when(idx == rows[5])
        .then(pl.lit(late.isoformat()))
        .otherwise(pl.col("session_date"))
        .alias("session_date"),
    )
    return {**frames, "enrollments": enr, "attendance": att}
