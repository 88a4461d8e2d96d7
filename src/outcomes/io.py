"""Read a provider's export and check it against the data contract.

:func:`load` reads the files of a dataset folder, refuses what cannot be used at all (missing or
unreadable files, missing columns, direct identifiers), checks every value and every cross-row
rule declared in :mod:`outcomes.schema`, and reports each problem as a row of an ``issues``
frame. Every input row is accounted for: it is kept, or excluded with its reasons.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import polars as pl

from outcomes import _sessions
from outcomes._links import episode_bounds, exact_duplicates, link_rules
from outcomes._rules import (
    check_values,
    enrollment_rules,
    given_flags,
    rows_with_errors,
    sort_issues,
)
from outcomes._screen import Evidence, Found, by_name, decide, evidence
from outcomes._table import ROW, LazyTable, Table, read
from outcomes.dataset import Dataset
from outcomes.errors import DataError, IdentifierError, InputError
from outcomes.mapping import Mapping, TableMapping, read_mapping
from outcomes.schema import (
    ACCOUNTING_COLUMNS,
    FILE_EXTENSIONS,
    SPECS,
    TableSpec,
    identifier_kind,
)

OnError = Literal["raise", "exclude"]


#: The environment variable naming a mapping file when none is passed (the quarterly job and
#: the report's notebook get the mapping this way).
MAPPING_ENV = "OUTCOMES_MAPPING"


def load(
    path: str | Path,
    *,
    on_error: OnError = "raise",
    mapping: str | Path | Mapping | None = None,
) -> Dataset:
    """Load a dataset folder and check it against the data contract.

    Parameters
    ----------
    path : str or Path
        A folder holding ``enrollments``, ``attendance`` and optionally ``followups``, each as
        ``.csv`` (UTF-8, comma-separated, header row), ``.parquet`` or an Excel workbook
        (``.xlsx``, ``.xls``), or the files a mapping names. The columns of each file
        are documented in ``docs/data-dictionary.md`` and declared in :mod:`outcomes.schema`.
    on_error : {"raise", "exclude"}
        ``"raise"``: raise one :class:`~outcomes.errors.DataError` carrying every problem when
        any row breaks a rule of severity ``error``. ``"exclude"``: drop the failing rows (and
        the sessions and follow-ups of dropped episodes) and keep them in ``issues``. Warnings
        never exclude a row. A row identical in every column to an earlier one is kept once
        (its copies are reported as ``exact_duplicate`` warnings and counted as excluded).

    mapping : str, Path or Mapping, optional
        How the export maps onto the contract (a TOML file, see ``docs/mapping.md``, or a
        :class:`~outcomes.mapping.Mapping`): which file and sheet holds each table, the export
        column behind each contract column, export values behind contract codes, date formats
        and the text encoding. Applied before any check (identifier screening included).
        Default: the file named by the environment variable ``OUTCOMES_MAPPING`` when it is
        set, else none (the files follow the contract).

    Returns
    -------
    Dataset
        ``enrollments``, ``attendance``, ``followups`` (``None`` without a followups file) with
        the contract's dtypes; ``issues`` with columns ``file, row, column, value, rule,
        severity, message``; ``accounting`` with ``file, rows_read, rows_kept, rows_excluded,
        rows_with_warnings`` (``rows_read == rows_kept + rows_excluded``; ``rows_excluded``
        counts the rows with errors and the dropped copies of rows exported twice).

    Raises
    ------
    InputError
        A file is missing, empty, header-only, not valid in its encoding (UTF-8 unless the
        mapping declares another), unreadable, a workbook with several sheets and none named,
        or lacks a required column; or the mapping file is not valid (one line per problem).
    IdentifierError
        A file has a direct-identifier column (names, dates of birth, SSN, phone, e-mail,
        street address, ZIP beyond 3 digits, medical record number, and the like).
    DataError
        ``on_error="raise"`` and some row breaks a rule; or no valid episode remains.

    Examples
    --------
    >>> import outcomes
    >>> ds = outcomes.load("data/sample")  # doctest: +SKIP
    >>> ds.accounting  # doctest: +SKIP

    An export in a provider system's own shape, read through its mapping:

    >>> import tempfile
    >>> from outcomes import synth
    >>> out = synth.write(synth.generate(50, seed=1), tempfile.mkdtemp(), style="foreign")
    >>> ds = outcomes.load(out, mapping=out / "mapping.toml")
    >>> ds.accounting.select("file", "rows_read", "rows_kept", "rows_excluded").rows()[0]
    ('Episodes.xlsx', 101, 100, 1)
    >>> ds.issues["rule"].unique().to_list()
    ['exact_duplicate']
    """
    if on_error not in ("raise", "exclude"):
        raise ValueError(f'on_error must be "raise" or "exclude", not {on_error!r}')
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (a dataset is a folder of files)")

    if mapping is None and os.environ.get(MAPPING_ENV):
        mapping = os.environ[MAPPING_ENV]
    if mapping is None:
        mapping = Mapping(tables={})
    elif not isinstance(mapping, Mapping):
        mapping = read_mapping(mapping)
    raw, files = _read_all(folder, mapping)
    source = raw.pop("attendance")  # checked last, a chunk at a time when it is long
    rows_read = {name: table.height for name, table in raw.items()}
    rows_read["attendance"] = source.height
    deduplicated = {name: exact_duplicates(table, name)[:2] for name, table in raw.items()}
    raw = {name: d[0] for name, d in deduplicated.items()}
    checked = {
        name: check_values(table, SPECS[name], mapping.table(name), bool(mapping.tables))
        for name, table in raw.items()
    }
    typed = {name: c[0] for name, c in checked.items()}
    issues = {name: [deduplicated[name][1], c[1]] for name, c in checked.items()}
    given = given_flags(raw["enrollments"], ("discharge_date", "discharge_reason"))
    del raw, checked
    enrollments = typed.pop("enrollments").frame()
    issues["enrollments"].append(enrollment_rules(enrollments.hstack(given)))

    invalid = pl.col(ROW).is_in(rows_with_errors(issues["enrollments"]))
    valid_enrollments = enrollments.filter(~invalid)
    bounds = episode_bounds(valid_enrollments, enrollments.filter(invalid))
    held = {name: table.height for name, table in typed.items()}
    held["enrollments"] = enrollments.height
    del enrollments
    if "followups" in typed:
        link_issues, _ = link_rules(typed["followups"], "followups", bounds)
        issues["followups"].append(link_issues)
    tm, mapped = mapping.table("attendance"), bool(mapping.tables)
    lazy = isinstance(source, LazyTable)
    sessions = _sessions.check(source, tm, mapped, bounds, valid_enrollments, screen=lazy)
    if lazy:
        _refuse(sessions, files["attendance"])
        if not sessions.grouped and len(sessions.starts) > 2:  # copies across chunks?
            copies = _sessions.copies_by_hash(source, sessions.starts)
            sessions = _sessions.check(
                source, tm, mapped, bounds, valid_enrollments, screen=False, copies=copies
            )
    issues["attendance"] = sessions.issues
    issue_frames = {name: pl.concat(frames, how="vertical") for name, frames in issues.items()}
    all_issues = sort_issues(
        pl.concat(
            [f.with_columns(pl.lit(files[name]).alias("file")) for name, f in issue_frames.items()],
            how="vertical",
        ),
        files,
    )
    accounting_rows = []
    kept: dict[str, pl.Series | None] = {}
    for name in SPECS:
        if name not in issue_frames:
            continue
        if name == "attendance":
            n_kept, n_warned = sessions.kept, sessions.warned
        else:
            f_issues = issue_frames[name]
            err_rows = f_issues.filter(pl.col("severity") == "error")["row"].unique()
            warn_rows = f_issues.filter(
                pl.col("severity") == "warning", pl.col("rule") != "exact_duplicate"
            )["row"].unique()
            n_kept = held[name] - err_rows.len()  # every error is on a row held (copies have none)
            n_warned = warn_rows.filter(~warn_rows.is_in(err_rows.implode())).len()
            if name != "enrollments":
                kept[name] = ~typed[name].mask_of(err_rows) if err_rows.len() else None
        accounting_rows.append(
            (
                files[name],
                rows_read[name],
                n_kept,
                rows_read[name] - n_kept,  # rows with errors, and repeated copies
                n_warned,
            )
        )
    accounting = pl.DataFrame(accounting_rows, schema=list(ACCOUNTING_COLUMNS), orient="row")

    n_errors = all_issues.filter(pl.col("severity") == "error").height
    if on_error == "raise" and n_errors:
        raise DataError(all_issues, accounting)
    if valid_enrollments.height == 0:
        raise DataError(all_issues, accounting)
    followups = None
    if "followups" in typed:
        table = typed.pop("followups")
        if kept["followups"] is not None:
            table = table.filter(kept["followups"])
        followups = table.frame().drop(ROW)
    if lazy:
        held_sessions = _sessions.chunked_sessions(
            source, sessions, tm, mapped, bounds, valid_enrollments
        )
    else:
        held_sessions = sessions.sessions[0]
    return Dataset(
        enrollments=valid_enrollments.drop(ROW),
        attendance=held_sessions,
        followups=followups,
        issues=all_issues,
        accounting=accounting,
        source=str(folder),
    )


def _refuse(checked: _sessions.Checked, file: str) -> None:
    """Refuse a session file whose values, searched chunk by chunk, carry an identifier."""
    found = _sessions.refusals(checked.evidence)
    if found:
        raise IdentifierError(
            [f.message(file) for f in found],
            {file: [f.column for f in found]},
            [(file, f.column, f.kind, f.row) for f in found],
        )


# ---------------------------------------------------------------------------------------------
# Reading and refusing


def _listing(folder: Path, limit: int = 12) -> str:
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if not names:
        return "nothing"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _find_file(folder: Path, name: str, tm: TableMapping) -> Path | None:
    """The file holding table ``name``: the one the mapping names, else ``<name>.<ext>``."""
    if tm.file is not None:
        named = [p for p in folder.iterdir() if p.is_file() and p.name.lower() == tm.file.lower()]
        exact = [p for p in named if p.name == tm.file]
        if exact or named:
            return (exact or named)[0]
        raise InputError(
            f"{folder}: no file '{tm.file}' (the mapping's [files] {name}); the folder holds "
            f"{_listing(folder)}"
        )
    found = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.stem.lower() == name and p.suffix.lower() in FILE_EXTENSIONS
    ]
    if len(found) > 1:
        raise InputError(
            f"{folder}: both {' and '.join(sorted(p.name for p in found))} exist; keep one"
        )
    return found[0] if found else None


def _read_all(
    folder: Path, mapping: Mapping
) -> tuple[dict[str, Table | LazyTable], dict[str, str]]:
    """Read every file of the dataset as it is; collect every refusal before raising.

    A long session file is only opened (:class:`~outcomes._table.LazyTable`): its names are
    screened here, its values chunk by chunk later, or here when another file is refused (so
    that every refusal is still reported at once)."""
    problems: list[str] = []
    refused: dict[str, tuple] = {}  # table -> (file, found, message lines, columns)
    frames: dict[str, Table | LazyTable] = {}
    files: dict[str, str] = {}
    sheets: dict[str, str | None] = {}
    absent: list[str] = []
    for name, spec in SPECS.items():
        tm = mapping.table(name)
        try:
            file = _find_file(folder, name, tm)
        except InputError as err:
            problems.extend(err.problems)
            continue
        if file is None:
            if not spec.optional:
                absent.append(name)
            continue
        try:
            frame = read(file, sheet=tm.sheet, encoding=tm.encoding, table=name)
            frame = _apply_columns(frame, tm, file)
        except IdentifierError as err:
            columns = err.columns.get(file.name, [])
            found = [Found(c, k, r) for f, c, k, r in err.found]
            refused[name] = (file.name, found, err.problems, columns)
            continue
        except InputError as err:
            problems.extend(err.problems)
            continue
        frame = _match_contract_names(frame, spec, file)
        if isinstance(frame, LazyTable):  # its values are searched chunk by chunk, later
            found = decide(Evidence(frame.names, by_name(frame.names, spec)))
        else:
            found = decide(evidence(frame, spec))
        if found:
            lines = [f.message(file.name) for f in found]
            refused[name] = (file.name, found, lines, [f.column for f in found])
            continue
        missing = [c for c in spec.required_names if c not in frame.names]
        if missing:
            problems.append(
                f"{file.name}: missing required column(s) {', '.join(missing)}; "
                + (
                    f"map them in [{name}.columns] of the mapping"
                    if mapping.tables
                    else "see docs/data-dictionary.md (or docs/mapping.md for an export "
                    "with other column names)"
                )
            )
            continue
        frames[name] = frame
        files[name] = file.name
        sheets[name] = tm.sheet
    if len(absent) == sum(not s.optional for s in SPECS.values()) and not frames:
        problems.append(
            f"{folder}: no {' or '.join(absent)} file; the folder holds {_listing(folder)}. "
            f"Name the files {', '.join(f'{n}.csv' for n in SPECS)} (or .parquet, .xlsx), or "
            f"name them in a mapping file (outcomes map {folder} --out mapping.toml drafts one)"
        )
    else:
        problems.extend(
            f"{folder}: missing file {n}.csv (or {n}.parquet, {n}.xlsx); see "
            "docs/data-dictionary.md, or name the file in the mapping's [files]"
            for n in absent
        )
    if refused or problems:
        for name, frame in frames.items():  # a long file not yet searched: search it now
            if isinstance(frame, LazyTable):
                found = _sessions.refusals(_sessions.screen(frame))
                if found:
                    lines = [f.message(files[name]) for f in found]
                    refused[name] = (files[name], found, lines, [f.column for f in found])
    if refused:
        in_order = [refused[name] for name in SPECS if name in refused]
        raise IdentifierError(
            [line for _, _, lines, _ in in_order for line in lines] + problems,
            {file: columns for file, _, _, columns in in_order},
            [(file, f.column, f.kind, f.row) for file, found, _, _ in in_order for f in found],
        )
    if problems:
        raise InputError(problems)
    shared = {f for f in files.values() if list(files.values()).count(f) > 1}
    for name in files:  # tables on sheets of one workbook: name the sheet too
        if files[name] in shared and sheets[name]:
            files[name] = f"{files[name]} (sheet {sheets[name]})"
    return frames, files


def _apply_columns(frame: Table, tm: TableMapping, file: Path) -> Table:
    """Rename the export's columns to the contract's, as the mapping says (before any check).

    A mapped export column whose name denotes a direct identifier is refused: a mapping cannot
    turn a medical record number into the pseudonymous ``client_id``.
    """
    if not tm.columns:
        return frame
    by_lower = {c.strip().lower(): c for c in frame.names}
    renames: dict[str, str] = {}
    missing = []
    for contract, export in tm.columns.items():
        source = export if export in frame.names else by_lower.get(export.lower())
        if source is None:
            missing.append(f"'{export}' (for {contract})")
        else:
            renames[source] = contract
    if missing:
        raise InputError(
            f"{file.name}: no column {', '.join(missing)}, which [{tm.name}.columns] of the "
            f"mapping names; its columns are {', '.join(frame.names)}"
        )
    refused = [(src, kind) for src in renames if (kind := identifier_kind(src)) is not None]
    if refused:
        raise IdentifierError(
            [
                f"{file.name}: column '{src}' looks like {kind}, and the mapping makes it "
                f"{renames[src]}. outcomes takes de-identified data only: export a pseudonymous "
                "key made for the export instead and try again."
                for src, kind in refused
            ],
            {file.name: [src for src, _ in refused]},
            [(file.name, src, kind, None) for src, kind in refused],
        )
    both = [
        f"'{target}' and '{source}'"
        for source, target in renames.items()
        if target in frame.names and target not in renames
    ]
    if both:
        raise InputError(
            f"{file.name}: has both {', '.join(both)}, which the mapping maps to the same "
            "contract column; drop one from the export or from the mapping"
        )
    return frame.rename(renames)


def _match_contract_names(frame: Table, spec: TableSpec, file: Path) -> Table:
    """Rename columns that match a contract name up to case and surrounding blanks."""
    by_norm = {c.name: c.name for c in spec.columns}
    renames = {}
    for col in frame.names:
        target = by_norm.get(col.strip().lower())
        if target and target != col:
            renames[col] = target
    if len(set(renames.values()) | (set(frame.names) - set(renames))) < len(frame.names):
        raise InputError(f"{file.name}: a column appears twice under different spellings")
    return frame.rename(renames) if renames else frame
