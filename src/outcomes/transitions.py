"""What follows a discharge (METRICS.md "Transitions after discharge").

For a discharged episode E of client C, C's later episodes decide: a **step-down** (E is
residential or php, discharged completed or transferred, and C is admitted to a lower level of
care, php/iop/outpatient, 0 to 30 days later: the first such admission), a **readmission** (the
first later admission with ``admit_date > E.discharge_date`` that is not E's step-down), a
**relapse** where follow-ups exist (the first of readmission and a follow-up contact after
discharge reporting use), and **death** (``discharge_reason == "died"``), which ends follow-up.
Everything is computed on whole frames: one self-join of each client's episodes.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from outcomes.schema import LEVEL_OF_CARE

#: Columns of :func:`transitions`, after ``episode_id``.
TRANSITION_COLUMNS = (
    "step_down",
    "days_to_step_down",
    "step_down_program",
    "readmitted",
    "days_to_readmission",
    "relapsed",
    "days_to_relapse",
    "readmit_time",
    "readmit_cause",
    "relapse_time",
    "relapse_cause",
    "dropout_time",
    "dropout_cause",
)
STEP_DOWN_DAYS = 30

#: Codes of the ``*_cause`` columns.
CENSORED, EVENT, DEATH = 0, 1, 2
DROPOUT_CAUSES = {0: "enrolled at as_of", 1: "left early", 2: "completed", 3: "other discharge"}


def transitions(ep: pl.DataFrame, followups: pl.DataFrame | None, as_of: dt.date) -> pl.DataFrame:
    """Step-down, readmission, relapse and time-to-event columns per episode.

    Parameters
    ----------
    ep : polars.DataFrame
        One row per episode known at ``as_of``: ``client_id, episode_id, program_type,
        admit_date, discharge_date`` (empty when open at ``as_of``), ``discharge_reason``,
        ``los_days``.
    followups : polars.DataFrame or None
        ``episode_id, contact_date, used_since_discharge``; ``None`` when the dataset has no
        follow-ups (relapse columns are then empty).
    as_of : date
        Data cut-off: follow-ups after it are ignored, and follow-up is censored there.

    Returns
    -------
    polars.DataFrame
        One row per row of ``ep``, in its order: ``episode_id`` and, for discharged episodes
        (empty for open ones):

        - ``step_down`` (bool), ``days_to_step_down`` (int), ``step_down_program`` (str).
        - ``readmitted`` (bool), ``days_to_readmission`` (int).
        - ``relapsed`` (bool), ``days_to_relapse`` (int): only with follow-ups.
        - ``readmit_time`` (int days) and ``readmit_cause`` (0 censored at ``as_of``, 1
          readmitted, 2 died: an episode discharged because the client died enters with cause
          2 at time 0, so death competes with readmission); ``relapse_time``/``relapse_cause``
          likewise (with follow-ups).
        - ``dropout_time`` (= ``los_days``, also for open episodes) and ``dropout_cause`` (0
          still enrolled at ``as_of``, 1 left early, 2 completed, 3 any other discharge).
    """
    # integer keys: each episode's position in episode_id order (ties of later admissions are
    # broken by episode_id, as the text would) and a code per client
    order = (
        pl.int_range(pl.len(), dtype=pl.UInt32)
        if ep["episode_id"].is_sorted()
        else pl.col("episode_id").rank("ordinal").cast(pl.UInt32)
    )
    level = pl.col("program_type").replace_strict(LEVEL_OF_CARE, default=None, return_dtype=pl.Int8)
    keyed = ep.select(
        order.alias("__i"),
        pl.col("client_id").cast(pl.Categorical(pl.Categories.random())).to_physical().alias("__c"),
        "program_type",
        level.alias("__level"),
        "admit_date",
        "discharge_date",
        "discharge_reason",
    )
    closed = keyed.filter(pl.col("discharge_date").is_not_null())
    later = keyed.select(
        "__c",
        pl.col("__i").alias("__next"),
        pl.col("program_type").alias("next_program"),
        pl.col("__level").alias("__next_level"),
        pl.col("admit_date").alias("next_admit"),
    )
    pairs = (
        closed.select("__c", "__i", "program_type", "__level", "discharge_date", "discharge_reason")
        .join(later, on="__c", how="inner")
        .filter(pl.col("__next") != pl.col("__i"))
        .with_columns(
            (pl.col("next_admit") - pl.col("discharge_date")).dt.total_days().alias("gap")
        )
        .filter(pl.col("gap") >= 0)
    )
    step_downs = (
        pairs.filter(
            pl.col("program_type").is_in(["residential", "php"]),
            pl.col("discharge_reason").is_in(["completed", "transferred"]),
            pl.col("next_program").is_in(["php", "iop", "outpatient"]),
            pl.col("__next_level") < pl.col("__level"),
            pl.col("gap") <= STEP_DOWN_DAYS,
        )
        .sort("__i", "next_admit", "__next")
        .unique("__i", keep="first", maintain_order=True)
        .select(
            "__i",
            pl.col("__next").alias("__step"),
            pl.col("gap").alias("days_to_step_down"),
            pl.col("next_program").alias("step_down_program"),
        )
    )
    readmissions = (
        pairs.join(step_downs.select("__i", "__step"), on="__i", how="left")
        .filter(pl.col("gap") > 0, pl.col("__next") != pl.col("__step").fill_null(2**32 - 1))
        .group_by("__i")
        .agg(pl.col("gap").min().alias("days_to_readmission"))
    )
    out = (
        closed.select("__i", "discharge_date", "discharge_reason")
        .join(step_downs.drop("__step"), on="__i", how="left")
        .join(readmissions, on="__i", how="left")
    )
    out = out.with_columns(
        pl.col("days_to_step_down").is_not_null().alias("step_down"),
        pl.col("days_to_readmission").is_not_null().alias("readmitted"),
    )
    if followups is not None:
        positive = (
            followups.filter(pl.col("used_since_discharge"), pl.col("contact_date") <= as_of)
            .join(
                ep.select("episode_id", order.alias("__i"), "discharge_date").drop_nulls(
                    "discharge_date"
                ),
                on="episode_id",
                how="inner",
            )
            .with_columns(
                (pl.col("contact_date") - pl.col("discharge_date")).dt.total_days().alias("d")
            )
            .filter(pl.col("d") > 0)
            .group_by("__i")
            .agg(pl.col("d").min().alias("__use"))
        )
        out = (
            out.join(positive, on="__i", how="left")
            .with_columns(
                pl.min_horizontal("days_to_readmission", "__use").alias("days_to_relapse")
            )
            .with_columns(pl.col("days_to_relapse").is_not_null().alias("relapsed"))
        )
    else:
        out = out.with_columns(
            pl.lit(None, dtype=pl.Int64).alias("days_to_relapse"),
            pl.lit(None, dtype=pl.Boolean).alias("relapsed"),
        )
    follow = (pl.lit(as_of) - pl.col("discharge_date")).dt.total_days()
    died = pl.col("discharge_reason") == "died"

    def time_and_cause(days: str, name: str) -> list[pl.Expr]:
        time = pl.when(died).then(0).otherwise(pl.coalesce(days, follow))
        cause = (
            pl.when(died)
            .then(DEATH)
            .when(pl.col(days).is_not_null())
            .then(EVENT)
            .otherwise(CENSORED)
        )
        if name == "relapse" and followups is None:
            return [
                pl.lit(None, dtype=pl.Int32).alias(f"{name}_time"),
                pl.lit(None, dtype=pl.Int8).alias(f"{name}_cause"),
            ]
        return [
            time.cast(pl.Int32).alias(f"{name}_time"),
            cause.cast(pl.Int8).alias(f"{name}_cause"),
        ]

    out = out.with_columns(
        *time_and_cause("days_to_readmission", "readmit"),
        *time_and_cause("days_to_relapse", "relapse"),
    )
    reason = pl.col("discharge_reason")
    dropout = ep.select(
        "episode_id",
        order.alias("__i"),
        pl.col("los_days").alias("dropout_time"),
        pl.when(reason.is_null())
        .then(0)
        .when(reason == "left_early")
        .then(1)
        .when(reason == "completed")
        .then(2)
        .otherwise(3)
        .cast(pl.Int8)
        .alias("dropout_cause"),
    )
    result = dropout.join(out, on="__i", how="left", maintain_order="left").with_columns(
        pl.col("days_to_step_down", "days_to_readmission", "days_to_relapse").cast(pl.Int32)
    )
    return result.select("episode_id", *TRANSITION_COLUMNS)
