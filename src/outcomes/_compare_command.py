"""The ``outcomes compare`` command: which discharges, one comparison or one per group, and
the files it writes (the estimation itself is :func:`outcomes.compare.compare`)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import polars as pl

from outcomes.cli import EXIT_OK
from outcomes.errors import OutcomesError


def compared_period(period: str, as_of: dt.date) -> tuple[str | None, str]:
    """The discharges ``outcomes compare --period`` selects, and how to say so."""
    from outcomes.cohorts import trailing_year
    from outcomes.metrics import period_bounds
    from outcomes.report import resolve_period

    if period == "all":
        return None, "every discharge"
    quarter = resolve_period(period, as_of)
    try:
        year = trailing_year(quarter)
    except ValueError:
        period_bounds(quarter)  # a year or a range: refused here when malformed
        return quarter, f"discharges in {quarter}"
    return year, f"discharges in {year} (the trailing year of {quarter})"


def run(args: argparse.Namespace) -> int:
    """``outcomes compare``: the adjusted comparison, once or per ``--by`` group."""
    from outcomes.cohorts import discharged_in
    from outcomes.compare import compare
    from outcomes.episodes import as_date, episodes
    from outcomes.errors import EstimationError
    from outcomes.io import load
    from outcomes.report import Progress

    say = Progress()
    say(f"loading {args.data}")
    ds = load(args.data, on_error="exclude", mapping=args.mapping)
    as_of = as_date(args.as_of, ds.last_date)
    try:
        period, what = compared_period(args.period, as_of)
        trim = tuple(float(v) for v in args.trim.split(",")) if args.trim else None
        if trim is not None and len(trim) != 2:
            raise ValueError("--trim takes two percentiles, LOW,HIGH (e.g. 1,99)")
    except ValueError as err:
        raise OutcomesError(f"cannot compare: {err}") from None
    ep = episodes(ds, as_of)
    if period is not None:
        ep = discharged_in(ep, period)
    if args.by is not None and args.by not in ep.columns:
        raise OutcomesError(f"cannot compare by {args.by!r}: no such column")
    groups = (
        [(None, ep)]
        if args.by is None
        else [(key[0], part) for key, part in ep.group_by(args.by, maintain_order=True)]
    )
    covariates = args.covariates.split(",") if args.covariates else None
    results, skipped = [], []
    for key, part in sorted(groups, key=lambda g: str(g[0])):
        label = f"{args.by} {key}: " if args.by is not None else ""
        say(f"{label}comparing {args.treated} with {args.control}, {what}")
        try:
            result = compare(
                part,
                args.treated,
                args.control,
                covariates,
                args.estimand,
                n_boot=args.bootstrap,
                trim=trim,
                as_of=as_of,
            )
        except EstimationError as err:
            if args.by is None:
                raise OutcomesError(f"cannot compare: {err}") from None
            skipped.append((str(key), str(err)))
            continue
        except (ValueError, KeyError, pl.exceptions.ColumnNotFoundError) as err:
            if args.by is None:
                raise OutcomesError(f"cannot compare: {err}") from None
            skipped.append((str(key), str(err)))
            continue
        for warning in result.warnings:
            print(f"outcomes: {label}{warning}", file=sys.stderr)
        results.append((key, result))
    for key, why in skipped:
        print(f"outcomes: {args.by} {key} skipped: {why}", file=sys.stderr)
    if not results:
        raise OutcomesError(f"cannot compare: no {args.by} could be compared")

    def stacked(part: str) -> pl.DataFrame:
        frames = [getattr(r, part) for _, r in results]
        if args.by is None:
            return frames[0]
        return pl.concat(
            [
                f.select(pl.lit(str(k)).alias(args.by), pl.all())
                for (k, _), f in zip(results, frames, strict=False)
            ]
        )

    effects = stacked("effects")
    if args.out is None and args.out_dir is None:
        sys.stdout.write(effects.write_csv())
    if args.out is not None:
        effects.write_csv(args.out)
        say(f"wrote {args.out}")
    if args.balance_out is not None:
        stacked("balance").write_csv(args.balance_out)
        say(f"wrote {args.balance_out}")
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for part in ("effects", "balance", "diagnostics", "evalues", "overlap"):
            stacked(part).write_csv(args.out_dir / f"{part}.csv")
        lines = [f"Compared: {what}; as of {as_of}."]
        for key, result in results:
            head = f"[{args.by} {key}] " if args.by is not None else ""
            lines += [head + n for n in (*result.warnings, *result.notes)]
        lines += [f"[{args.by} {k}] skipped: {why}" for k, why in skipped]
        (args.out_dir / "notes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if skipped:
            pl.DataFrame(skipped, schema=[args.by, "reason"], orient="row").write_csv(
                args.out_dir / "skipped.csv"
            )
        say(f"wrote {args.out_dir}/ (effects, balance, diagnostics, evalues, overlap, notes)")
    return EXIT_OK
