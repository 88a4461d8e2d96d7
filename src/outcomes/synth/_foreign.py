"""A generated export in a provider system's own shape, with the mapping that undoes it.

Real exports are not shaped like the data contract: their columns have the system's names, the
level of care is an ASAM label, dates are American, the episodes come as an Excel workbook,
the sessions as a CSV saved by Excel on Windows (cp1252), and the odd row is exported twice.
:func:`write_foreign` writes such an export of a generated dataset, and ``mapping.toml`` beside
it; loading the export with that mapping gives exactly the dataset of the contract-shaped one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from outcomes.dataset import Dataset

#: Export column of each contract column, per table (file name, then the columns).
FOREIGN_FILES = {
    "enrollments": "Episodes.xlsx",
    "attendance": "Sessions.csv",
    "followups": "FollowUps.csv",
}
FOREIGN_SHEET = "Episodes"
FOREIGN_COLUMNS = {
    "enrollments": {
        "client_id": "Client Number",
        "episode_id": "Episode Number",
        "program_type": "Level of Care",
        "planned_length_days": "Planned Length (days)",
        "admit_date": "Admission Date",
        "discharge_date": "Discharge Date",
        "discharge_reason": "Discharge Type",
        "referral_source": "Referral Source",
        "modality": "Service Delivery",
        "age_group": "Age Group",
        "sex": "Gender",
        "race_ethnicity": "Race/Ethnicity",
        "primary_substance": "Primary Substance",
        "co_occurring_mh": "Co-Occurring MH Dx",
        "prior_episodes": "Prior Treatment Episodes",
        "site_id": "Facility",
    },
    "attendance": {
        "episode_id": "Episode Number",
        "session_date": "Service Date",
        "status": "Attendance Status",
        "session_type": "Service Type",
        "hours": "Duration (hrs)",
    },
    "followups": {
        "episode_id": "Episode Number",
        "contact_date": "Contact Date",
        "used_since_discharge": "Any Use Since Discharge",
        "method": "Contact Method",
    },
}
#: Export label of each contract code, per table and column.
FOREIGN_LABELS = {
    "enrollments": {
        "program_type": {
            "residential": "Residential 3.5",
            "iop": "ASAM 2.1",
            "php": "ASAM 2.5",
            "outpatient": "ASAM 1.0",
            "detox": "ASAM 3.7-WM",
        },
        "discharge_reason": {
            "completed": "Successful completion",
            "left_early": "AMA",
            "discharged_by_program": "Administrative discharge",
            "transferred": "Transferred",
            "incarcerated": "Incarcerated",
            "died": "Deceased",
            "other": "Other",
        },
        "referral_source": {
            "self": "Self",
            "family": "Family/Friend",
            "court": "Court/Criminal Justice",
            "healthcare": "Healthcare Provider",
            "employer": "Employer/EAP",
            "school": "School",
            "community": "Community Agency",
            "unknown": "Unknown",
        },
        "modality": {"in_person": "In person", "telehealth": "Telehealth", "hybrid": "Hybrid"},
        "co_occurring_mh": {"true": "Y", "false": "N"},
    },
    "attendance": {
        "status": {
            "attended": "Attended",
            "no_show": "No Show",
            "excused": "Excused – notified",  # the en dash is byte 0x96 in cp1252
            "cancelled": "Cancelled by program",
        },
        "session_type": {
            "individual": "Individual Therapy",
            "group": "Group Therapy",
            "education": "Psychoeducation",
            "family": "Family Session",
            "other": "Other",
        },
    },
    "followups": {"used_since_discharge": {"true": "Yes", "false": "No"}},
}
FOREIGN_DATE_FORMAT = "%m/%d/%Y"
#: Rows of each table written twice (an export glitch the loader keeps once).
FOREIGN_TWICE = {"enrollments": 1, "attendance": 3, "followups": 1}


def _foreign_frame(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    labels = FOREIGN_LABELS[name]
    exprs = []
    for contract, export in FOREIGN_COLUMNS[name].items():
        col = pl.col(contract)
        dtype = frame.schema[contract]
        if dtype == pl.Date:
            col = col.dt.strftime(FOREIGN_DATE_FORMAT)
        elif contract in labels:
            col = col.cast(pl.String).replace_strict(labels[contract], default=None)
        elif dtype == pl.Boolean:
            col = col.cast(pl.String)
        exprs.append(col.alias(export))
    return frame.select(exprs)


def _twice(frame: pl.DataFrame, n: int, rng: np.random.Generator) -> pl.DataFrame:
    """The frame with ``n`` of its rows written once more, each right after itself."""
    picks = set(rng.choice(frame.height, size=min(n, frame.height), replace=False).tolist())
    index = [i for r in range(frame.height) for i in ([r, r] if r in picks else [r])]
    return frame[index]


def foreign_mapping() -> str:
    """The mapping (TOML text) of the exports :func:`write_foreign` writes."""
    lines = ["# How the generated foreign-shaped export maps onto the data contract.", ""]
    lines += ["[files]"]
    for name, file in FOREIGN_FILES.items():
        lines.append(f'{name} = "{file}"')
    lines += [f'enrollments_sheet = "{FOREIGN_SHEET}"', 'attendance_encoding = "cp1252"', ""]
    lines += ["[options]", f'date_format = "{FOREIGN_DATE_FORMAT}"', ""]
    for name, columns in FOREIGN_COLUMNS.items():
        lines.append(f"[{name}.columns]")
        lines += [f'{contract} = "{export}"' for contract, export in columns.items()]
        lines.append("")
        for column, labels in FOREIGN_LABELS[name].items():
            lines.append(f"[{name}.values.{column}]")
            for code, label in labels.items():
                value = code if code in ("true", "false") else f'"{code}"'  # TOML true/false
                lines.append(f'"{label}" = {value}')
            lines.append("")
    return "\n".join(lines)


#: What ``messy=True`` plants on top of the foreign shape: file -> (rule, rows with it), as
#: ``outcomes validate --mapping`` reports them (follow-on exclusions aside).
FOREIGN_MESSY_PLANTED = {
    "enrollments": (("unmapped_value", 1), ("type", 1), ("duplicate_episode_id", 2)),
    "attendance": (("unknown_episode", 2), ("unmapped_value", 1)),
}


def _mess_foreign(
    frames: dict[str, pl.DataFrame], rng: np.random.Generator
) -> dict[str, pl.DataFrame]:
    """The mistakes of :data:`FOREIGN_MESSY_PLANTED`, in the export's own terms: a level of
    care the mapping does not know, an ISO date among American ones, an episode exported twice
    with another client number, sessions of an episode that does not exist, an unknown status."""
    names = FOREIGN_COLUMNS["enrollments"]
    enr = frames["enrollments"]
    idx = pl.int_range(pl.len())
    closed = enr.with_row_index("__i").filter(pl.col(names["discharge_date"]).is_not_null())
    picks = rng.choice(closed["__i"].to_numpy(), 3, replace=False).tolist()
    admit = pl.col(names["admit_date"])
    iso = admit.str.slice(6, 4) + "-" + admit.str.slice(0, 2) + "-" + admit.str.slice(3, 2)
    enr = enr.with_columns(
        pl.when(idx == picks[0])
        .then(pl.lit("ASAM 0.5"))
        .otherwise(pl.col(names["program_type"]))
        .alias(names["program_type"]),
        pl.when(idx == picks[1]).then(iso).otherwise(admit).alias(names["admit_date"]),
    )
    twice = enr[picks[2] : picks[2] + 1].with_columns(pl.col(names["client_id"]) + "0")
    enr = pl.concat([enr, twice])
    episode, status = (FOREIGN_COLUMNS["attendance"][c] for c in ("episode_id", "status"))
    att = frames["attendance"]
    touched = enr[picks][names["episode_id"]].implode()
    free = att.with_row_index("__i").filter(~pl.col(episode).is_in(touched))["__i"].to_numpy()
    rows = rng.choice(free, 3, replace=False).tolist()
    att = att.with_columns(
        pl.when(idx.is_in(rows[:2]))
        .then(pl.lit("E99999999"))
        .otherwise(pl.col(episode))
        .alias(episode),
        pl.when(idx == rows[2]).then(pl.lit("Late")).otherwise(pl.col(status)).alias(status),
    )
    return {**frames, "enrollments": enr, "attendance": att}


def write_foreign(ds: Dataset, out_dir: str | Path, seed: int = 0, messy: bool = False) -> Path:
    """Write ``ds`` as a provider system would export it, and the mapping that undoes it.

    Files: ``Episodes.xlsx`` (a workbook with a "Read me" sheet and the episodes on sheet
    "Episodes": the system's column names, ASAM labels, American dates as text, Y/N flags),
    ``Sessions.csv`` (cp1252, the system's labels, one with an en dash), ``FollowUps.csv``
    (UTF-8 with a byte-order mark, as Excel's "CSV UTF-8" writes it, Yes/No answers), some rows
    of each written twice (:data:`FOREIGN_TWICE`, drawn with ``seed``), and ``mapping.toml``.
    ``outcomes.load(out_dir, mapping=out_dir / "mapping.toml")`` gives the dataset the
    contract-shaped export of ``ds`` gives. With ``messy``, the export also carries the
    mistakes of :data:`FOREIGN_MESSY_PLANTED`, for ``outcomes validate --mapping`` to find.
    Returns the folder.
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames = {
        name: _foreign_frame(frame, name)
        for name, frame in (
            ("enrollments", ds.enrollments),
            ("attendance", ds.attendance),
            ("followups", ds.followups),
        )
        if frame is not None
    }
    if messy:
        frames = _mess_foreign(frames, rng)
    for name, frame in frames.items():
        export = _twice(frame, FOREIGN_TWICE[name], rng)
        target = out / FOREIGN_FILES[name]
        if name == "enrollments":
            import xlsxwriter

            with xlsxwriter.Workbook(target) as wb:
                note = pl.DataFrame(
                    {"Report": ["Episode export", "Generated data; no real person"]}
                )
                note.write_excel(wb, worksheet="Read me", autofit=False)
                export.write_excel(wb, worksheet=FOREIGN_SHEET, autofit=False)
        elif name == "attendance":
            target.write_bytes(export.write_csv().encode("cp1252"))
        else:
            target.write_bytes(b"\xef\xbb\xbf" + export.write_csv().encode("utf-8"))
    (out / "mapping.toml").write_text(foreign_mapping(), encoding="utf-8")
    return out
