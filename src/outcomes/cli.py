"""The ``outcomes`` command line.

``outcomes validate DIR``   check a dataset folder against the data contract.
``outcomes synth ...``      write a generated dataset with known, planted effects.
``outcomes metrics DIR``    the long table of program metrics (unsuppressed working table).
``outcomes compare DIR``    adjusted comparison of two programs (effect and balance tables).
``outcomes report``         render the quarterly report.
``outcomes national PUF``   national benchmark table from TEDS-D public files.

Exit codes: 0 success; 1 the data has errors (validate), or the period asked for has nothing to
report (metrics, report: no discharge in it, or after the data's as-of date); 2 a file cannot be
read or is refused, or the command line is wrong. A data problem never prints a Python traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from outcomes.errors import DataError, InputError, OutcomesError, PeriodError

EXIT_OK, EXIT_DATA_ERRORS, EXIT_REFUSED = 0, 1, 2
EXIT_EMPTY_PERIOD = 1  # nothing to report for the period: like data errors, not a usage error


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except InputError as err:
        for line in err.problems:
            print(f"outcomes: {line}", file=sys.stderr)
        return EXIT_REFUSED
    except DataError as err:
        print(f"outcomes: {err}", file=sys.stderr)
        _print_table(err.issues.head(50), file=sys.stderr)
        return EXIT_DATA_ERRORS
    except PeriodError as err:
        print(f"outcomes: {err}", file=sys.stderr)
        return EXIT_EMPTY_PERIOD
    except OutcomesError as err:
        print(f"outcomes: {err}", file=sys.stderr)
        return EXIT_REFUSED
    except BrokenPipeError:  # output piped into head and the like: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outcomes",
        description="Outcome metrics and reports for addiction-treatment programs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a dataset folder against the data contract")
    p.add_argument("data", type=Path, help="folder with enrollments, attendance, followups")
    p.add_argument(
        "--format",
        choices=("table", "csv"),
        default="table",
        help="table (default): accounting and issues for reading; csv: every issue",
    )
    p.add_argument(
        "--max-rows", type=int, default=50, help="issues listed in table format (default 50)"
    )
    _mapping_option(p)
    p.set_defaults(handler=_validate)

    p = sub.add_parser("synth", help="write a generated dataset with planted effects")
    p.add_argument("--clients", type=int, required=True, help="number of clients")
    p.add_argument("--seed", type=int, required=True, help="random seed")
    p.add_argument(
        "--start", type=_date, default=dt.date(2024, 1, 1), help="first admission date (YYYY-MM-DD)"
    )
    p.add_argument(
        "--end", type=_date, default=dt.date(2026, 9, 30), help="last date in the data (YYYY-MM-DD)"
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument(
        "--messy",
        action="store_true",
        help="plant the mistakes real exports have (to see validate at work)",
    )
    p.add_argument(
        "--style",
        choices=("contract", "foreign"),
        default="contract",
        help="contract (default): the files of the data contract; foreign: shaped like a "
        "provider system's own export (a workbook, a cp1252 CSV, its own names, labels and "
        "US dates, rows written twice), with the mapping.toml that loads it (with --messy, "
        "mistakes in the export's own terms too)",
    )
    p.set_defaults(handler=_synth)

    p = sub.add_parser("map", help="draft a mapping of an export in its own shape (to review)")
    p.add_argument("data", type=Path, help="folder of the export (CSV, Parquet or Excel files)")
    p.add_argument("--out", type=Path, default=None, help="mapping file to write (default: stdout)")
    p.set_defaults(handler=_map)

    p = sub.add_parser("metrics", help="program metrics as a long table (unsuppressed)")
    p.add_argument("data", type=Path)
    p.add_argument(
        "--by",
        default="program_type,length_band",
        help="comma-separated grouping columns (default program_type,length_band; "
        "empty for overall)",
    )
    p.add_argument("--period", default=None, help="quarter such as 2026Q3, or a year")
    p.add_argument("--as-of", type=_date, default=None, help="data cut-off (YYYY-MM-DD)")
    p.add_argument(
        "--out", type=Path, default=None, help=".csv, .parquet or .xlsx (default: stdout as CSV)"
    )
    p.add_argument(
        "--on-error",
        choices=("exclude", "raise"),
        default="exclude",
        help="drop rows that break the contract (default) or stop",
    )
    _mapping_option(p)
    p.set_defaults(handler=_metrics)

    p = sub.add_parser(
        "compare",
        help="adjusted comparison of two programs: doubly robust, IPTW, regression, naive",
    )
    p.add_argument("data", type=Path)
    p.add_argument("--treated", default="iop", help="treated program (default iop)")
    p.add_argument("--control", default="residential", help="control program")
    p.add_argument(
        "--covariates",
        default=None,
        help="comma-separated baseline columns (default: the case-mix present)",
    )
    p.add_argument(
        "--estimand",
        choices=("ate", "att"),
        default="ate",
        help="ate: over both programs' clients (default); att: over the treated program's",
    )
    p.add_argument(
        "--period",
        default="latest",
        help="discharges compared: a quarter means its trailing year, as in the report "
        "(default latest: the trailing year of the last full quarter); or a year "
        "(2026), a range (2025Q4-2026Q3), or all",
    )
    p.add_argument("--as-of", type=_date, default=None)
    p.add_argument(
        "--trim",
        default=None,
        metavar="LOW,HIGH",
        help="drop episodes whose propensity lies outside these percentiles (e.g. 1,99)",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        help="client-bootstrap resamples for the adjusted intervals (default 0: analytic)",
    )
    p.add_argument(
        "--by",
        default=None,
        metavar="COLUMN",
        help="one comparison per value of this column (e.g. site_id); groups that cannot be "
        "compared are listed with the reason",
    )
    p.add_argument("--out", type=Path, default=None, help="effect table (.csv; default stdout)")
    p.add_argument("--balance-out", type=Path, default=None, help="balance table (.csv)")
    p.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="write effects, balance, diagnostics, E-values and notes (CSV and text) here",
    )
    _mapping_option(p)
    p.set_defaults(handler=_compare)

    p = sub.add_parser("report", help="render the quarterly report (HTML, and PDF with Chromium)")
    p.add_argument(
        "--period",
        required=True,
        help="quarter such as 2026Q3, or latest / previous (full quarters before the as-of date)",
    )
    p.add_argument("--data", type=Path, default=Path("data/sample"), help="dataset folder")
    p.add_argument("--as-of", default=None, help="data cut-off (YYYY-MM-DD)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="output folder")
    p.add_argument(
        "--threshold",
        type=int,
        default=11,
        help="suppression threshold: counts from 1 to THRESHOLD-1 are hidden (default 11, the "
        "minimum CMS's cell-size suppression policy requires; higher is always allowed)",
    )
    p.add_argument(
        "--allow-low-threshold",
        action="store_true",
        help="accept a --threshold below 11; only for data agreements that explicitly "
        "permit a smaller cell size",
    )
    p.add_argument(
        "--keep-notebook",
        action="store_true",
        help="also keep the executed notebook as report.ipynb (scrubbed of the data folder's "
        "path); by default it is not published",
    )
    p.add_argument(
        "--benchmarks",
        type=Path,
        default=None,
        metavar="FILE",
        help="benchmark table made by outcomes national --report: draw the national lines and "
        "set IOP and residential care beside TEDS-D (default: none)",
    )
    p.add_argument(
        "--state",
        default=None,
        help="the provider's state (postal abbreviation, e.g. NY) for the second line",
    )
    _mapping_option(p)
    p.set_defaults(handler=_report)
    p = sub.add_parser(
        "national", help="national benchmark table from TEDS-D public files (any year, format)"
    )
    p.add_argument(
        "puf", type=Path, nargs="+", help="TEDS-D files or folders as downloaded (zip, csv, ...)"
    )
    p.add_argument(
        "--by",
        default=None,
        help="comma-separated groups from service, state, year, substance, co_occurring, "
        "referral, age_group, prior_treatment, sex (default service; empty for overall)",
    )
    p.add_argument(
        "--measures", default=None, help="comma-separated measures (default: all of them)"
    )
    p.add_argument(
        "--nation",
        action="store_true",
        help="with state in --by: also the nation's rows (state 'all'), in the same file",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="the table the quarterly report reads (outcomes report --benchmarks): lines by "
        "setting for the nation and every state, completion by case-mix for the nation and "
        "--state (instead of --by, --measures, --nation)",
    )
    p.add_argument(
        "--state",
        default=None,
        help="with --report: comma-separated states whose case-mix strata to add (e.g. NY)",
    )
    p.add_argument("--out", type=Path, default=None, help=".csv or .parquet (default: stdout)")
    p.add_argument("--issues", type=Path, default=None, help="write codes outside the codebook")
    p.add_argument("--encoding", default=None, help="text encoding of CSV files (default: auto)")
    p.set_defaults(handler=_national)
    return parser


def _mapping_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mapping",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML file mapping the export onto the data contract (docs/mapping.md; default: "
        "$OUTCOMES_MAPPING when set)",
    )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


# ---------------------------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    from outcomes.io import load
    from outcomes.quality import root_cause_summary, root_causes

    ds = load(args.data, on_error="exclude", mapping=args.mapping)
    errors = ds.issues.filter(pl.col("severity") == "error").height
    warnings = ds.issues.height - errors
    if args.format == "csv":
        sys.stdout.write(ds.issues.write_csv())
        return EXIT_DATA_ERRORS if errors else EXIT_OK
    print(f"Dataset {args.data}: data through {ds.last_date}")
    print()
    _print_table(ds.accounting)
    print()
    if not ds.issues.height:
        print("No issues: every row follows the data contract.")
        return EXIT_OK
    print(f"{errors} error(s) (rows excluded from analysis), {warnings} warning(s).")
    causes = root_causes(ds)
    follow_on = ds.issues.height - causes.height
    if follow_on:
        print(
            f"Root causes first: {follow_on} session and follow-up row(s) excluded with their "
            "episode are counted under the enrollment row that caused them (dependent_rows)."
        )
    print()
    _print_table(root_cause_summary(ds))
    print()
    _print_table(causes.head(args.max_rows))
    if causes.height > args.max_rows:
        print(f"... {causes.height - args.max_rows} more.")
    if causes.height > args.max_rows or follow_on:
        print("Every issue, follow-on exclusions included: --format csv.")
    return EXIT_DATA_ERRORS if errors else EXIT_OK


def _map(args: argparse.Namespace) -> int:
    from outcomes.mapping import draft_mapping

    print(f"outcomes: reading the export in {args.data}", file=sys.stderr)
    draft = draft_mapping(args.data)
    n_review = draft.text.count("# REVIEW")
    if args.out is None:
        sys.stdout.write(draft.text)
    else:
        if args.out.exists():
            raise OutcomesError(f"{args.out} exists; remove it or choose another --out")
        args.out.write_text(draft.text, encoding="utf-8")
        print(f"wrote {args.out}: {n_review} guesses marked REVIEW to check before using it")
    for file, column, kind in draft.refused:
        print(
            f"outcomes: {file}: column '{column}' looks like {kind}; not read, and the loader "
            "will refuse the file until it is dropped from the export",
            file=sys.stderr,
        )
    return EXIT_OK


def _synth(args: argparse.Namespace) -> int:
    import time

    from outcomes import synth

    if args.clients < 1:
        raise OutcomesError("--clients must be at least 1")
    if args.end < args.start:
        raise OutcomesError("--end must not be before --start")
    if args.style == "foreign" and args.format != "csv":
        raise OutcomesError(
            "--style foreign writes its own formats (a workbook, CSVs); drop --format"
        )
    if args.style == "foreign" and args.clients > synth.BLOCK:
        raise OutcomesError(
            f"--style foreign writes one workbook from data held in memory: at most "
            f"{synth.BLOCK:,} clients"
        )
    start = time.perf_counter()

    def say(line: str) -> None:
        print(f"[{time.perf_counter() - start:5.1f}s] {line}", file=sys.stderr, flush=True)

    rows = synth.export(
        args.clients,
        args.seed,
        args.out,
        fmt=args.format,
        start=args.start,
        end=args.end,
        messy=args.messy,
        style=args.style,
        progress=say,
    )
    print(
        f"wrote {rows['enrollments']} episodes of {args.clients} clients, "
        f"{rows['attendance']} sessions, {rows['followups']} follow-ups to {args.out}"
        + (
            f", and the mapping that loads them to {args.out / 'mapping.toml'}"
            if args.style == "foreign"
            else ""
        )
    )
    return EXIT_OK


def _metrics(args: argparse.Namespace) -> int:
    from outcomes.io import load
    from outcomes.metrics import check_period, metrics

    ds = load(args.data, on_error=args.on_error, mapping=args.mapping)
    try:  # a period without discharges would give a header-only table: say why instead
        check_period(ds, args.period, args.as_of)
    except ValueError as err:  # a malformed period: the user's words
        raise OutcomesError(str(err)) from None
    copies = ds.issues.filter(pl.col("rule") == "exact_duplicate").height
    excluded = ds.accounting["rows_excluded"].sum() - copies
    if excluded:
        print(
            f"outcomes: {excluded} row(s) break the data contract and were excluded; "
            f"see 'outcomes validate {args.data}'",
            file=sys.stderr,
        )
    if copies:
        print(f"outcomes: {copies} row(s) exported twice were kept once", file=sys.stderr)
    by = tuple(c.strip() for c in args.by.split(",") if c.strip())
    try:
        table = metrics(ds, by=by, period=args.period, as_of=args.as_of)
    except ValueError as err:  # an unknown column or a malformed period: the user's words
        raise OutcomesError(str(err)) from None
    if args.out is None:
        sys.stdout.write(table.write_csv())
        return EXIT_OK
    suffix = args.out.suffix.lower()
    if suffix == ".parquet":
        table.write_parquet(args.out)
    elif suffix == ".xlsx":
        table.write_excel(args.out, worksheet="metrics", autofit=True)
    elif suffix == ".csv":
        table.write_csv(args.out)
    else:
        raise OutcomesError(
            f"--out {args.out}: cannot write '{suffix or 'no extension'}'; name a .csv, "
            ".parquet or .xlsx file"
        )
    print(f"outcomes: wrote {table.height} rows to {args.out}", file=sys.stderr)
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from outcomes._compare_command import run

    return run(args)


def _report(args: argparse.Namespace) -> int:
    from outcomes.io import load
    from outcomes.report import Progress, ReportParams, render, resolve_period

    if args.as_of is not None:
        try:
            _date(args.as_of)
        except argparse.ArgumentTypeError as err:
            raise OutcomesError(str(err)) from None

    def params(period: str) -> ReportParams:
        try:
            return ReportParams(
                period=period,
                data_dir=str(args.data),
                as_of=args.as_of,
                threshold=args.threshold,
                allow_low_threshold=args.allow_low_threshold,
                benchmarks=None if args.benchmarks is None else str(args.benchmarks),
                state=args.state,
            )
        except (TypeError, ValueError) as err:
            raise OutcomesError(str(err)) from None

    if args.period not in ("latest", "previous"):
        params(args.period)  # a malformed period or a low threshold: refused before loading
    say = Progress()  # one line per stage on stderr: [ 3.2s] rendering HTML
    say("loading the data")  # once: to resolve latest, check the period, refuse bad files
    ds = load(args.data, on_error="exclude", mapping=args.mapping)
    with _mapping_for_notebooks(args.mapping):
        html = render(
            params(resolve_period(args.period, args.as_of or ds.last_date)),
            out_dir=args.out,
            dataset=ds,
            keep_notebook=args.keep_notebook,
            progress=say,
        )
    pdf = html.with_suffix(".pdf")
    print(f"wrote {html}" + (f" and {pdf}" if pdf.exists() else ""))
    return EXIT_OK


@contextlib.contextmanager
def _mapping_for_notebooks(mapping: Path | None) -> Iterator[None]:
    """The report's notebook loads the data itself: hand it the mapping through the
    environment (``outcomes.load`` reads OUTCOMES_MAPPING), and put the environment back."""
    if mapping is None:
        yield
        return
    from outcomes.io import MAPPING_ENV

    before = os.environ.get(MAPPING_ENV)
    os.environ[MAPPING_ENV] = str(mapping.resolve())
    try:
        yield
    finally:
        if before is None:
            del os.environ[MAPPING_ENV]
        else:
            os.environ[MAPPING_ENV] = before


def _national(args: argparse.Namespace) -> int:
    import time

    from outcomes.national import benchmarks, read, report_table
    from outcomes.national._codes import CASEMIX

    start = time.perf_counter()

    def say(line: str) -> None:
        print(f"[{time.perf_counter() - start:5.1f}s] {line}", file=sys.stderr)

    by = [c.strip() for c in (args.by or "service").split(",") if c.strip()]
    states = [s.strip() for s in (args.state or "").split(",") if s.strip()]
    if args.state is not None and not args.report:
        raise OutcomesError("--state goes with --report (any table can be --by state)")
    if args.report and (args.by is not None or args.measures or args.nation):
        raise OutcomesError("--report makes its own groups and measures: drop --by, --measures "
                            "and --nation")  # fmt: skip
    try:
        columns = list(CASEMIX) if args.report else [c for c in by if c in CASEMIX]
        teds = read(args.puf, columns=columns, encoding=args.encoding, progress=say)
        say("computing the benchmark table")
        if args.report:
            table = report_table(teds, states)
        else:
            measures = [m.strip() for m in args.measures.split(",")] if args.measures else None
            table = benchmarks(teds, by=by, measures=measures, nation=args.nation)
    except ValueError as err:  # an unknown by-column or state: the user's words
        raise OutcomesError(str(err)) from None
    if teds.issues.height:
        say(
            f"{teds.issues.height} value(s) outside the codebook, counted as missing"
            + (f": see {args.issues}" if args.issues else " (list them with --issues FILE)")
        )
        if args.issues:
            teds.issues.write_csv(args.issues)
    if args.out is None:
        sys.stdout.write(table.write_csv())
    else:
        if args.out.suffix.lower() == ".parquet":
            table.write_parquet(args.out)
        else:
            table.write_csv(args.out)
        sources = args.out.with_suffix(".sources.csv")  # which files, layouts and years
        teds.files.write_csv(sources)
        say(f"wrote {args.out} and {sources.name}")
    say(f"{table.height} rows from {teds.data.height:,} discharges, years {teds.years}")
    return EXIT_OK


def _print_table(frame: pl.DataFrame, file=None, max_width: int = 60) -> None:
    """Print a frame as a plain aligned text table (no box drawing)."""
    file = sys.stdout if file is None else file
    cols = frame.columns
    rows = [["" if v is None else str(v) for v in row] for row in frame.iter_rows()]
    rows = [[v if len(v) <= max_width else v[: max_width - 1] + "…" for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip(), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip(), file=file)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
