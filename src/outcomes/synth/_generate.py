"""Vectorised generation of clients, episodes in waves, sessions and follow-ups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import polars as pl

from outcomes.dataset import Dataset
from outcomes.schema import AGE_GROUPS, REFERRAL_SOURCES, SEXES, SUBSTANCES
from outcomes.synth._model import (
    _AGE_W,
    _DETOX,
    _IOP,
    _OUT,
    _PHP,
    _PROGRAMS,
    _RACES,
    _REASONS,
    _RES,
    _SEVERITY_CENTRE,
    _SUBSTANCE_W,
    Effects,
    _as_date,
    _expit,
)


def generate(
    n_clients: int,
    seed: int,
    start: str | dt.date = "2024-01-01",
    end: str | dt.date = "2026-09-30",
    effects: Effects | None = None,
) -> Dataset:
    """Generate a provider export with known program effects and confounding by severity.

    Parameters
    ----------
    n_clients : int
        Number of clients (each has one or more episodes; about 1.5 on average).
    seed : int
        Seed of the random streams: the same seed gives the same data. Clients are generated
        in blocks of :data:`BLOCK`, each with its own stream (:func:`block_rng`: up to
        :data:`BLOCK` clients, ``numpy.random.default_rng(seed)``), so that any number of
        clients can be written block by block (:func:`outcomes.synth.export`).
    start, end : str or datetime.date
        First admissions fall from ``start``; nothing is dated after ``end`` (the data's
        cut-off, so episodes running then are open).
    effects : Effects, optional
        Planted parameters; defaults as documented on :class:`Effects`.

    Returns
    -------
    Dataset
        ``enrollments`` (String ids and codes, Int32 ``planned_length_days`` and
        ``prior_episodes``, Date ``admit_date``/``discharge_date``, Boolean
        ``co_occurring_mh``: every column of ``schema.ENROLLMENTS``), ``attendance``
        (``episode_id, session_date, status, session_type, hours``) and ``followups``
        (``episode_id, contact_date, used_since_discharge, method``), with empty ``issues``.

    Examples
    --------
    >>> from outcomes import synth
    >>> ds = synth.generate(200, seed=1)
    >>> ds.enrollments.columns[:4]
    ['client_id', 'episode_id', 'program_type', 'planned_length_days']
    >>> bool((ds.enrollments["discharge_date"] >= ds.enrollments["admit_date"]).all())
    True
    """
    parts = list(blocks(n_clients, seed, start, end, effects))
    if len(parts) == 1:
        return parts[0]
    return Dataset.from_frames(
        pl.concat([b.enrollments for b in parts]),
        pl.concat([b.attendance for b in parts]),
        pl.concat([b.followups for b in parts]),
    )


#: Clients per block, the unit of generation: block ``k`` holds clients ``k * BLOCK + 1`` on and
#: draws from its own random stream (:func:`block_rng`), so a generated export is its blocks one
#: after another, whether they are generated at once (:func:`generate`) or written one at a time
#: in bounded memory (:func:`outcomes.synth.export`).
BLOCK = 100_000


def block_rng(seed: int, k: int) -> np.random.Generator:
    """The random stream of block ``k`` of ``seed``: ``default_rng(seed)`` for the first block
    (so an export of up to :data:`BLOCK` clients is one stream of the seed), and the seed's
    ``k``-th spawned stream, ``default_rng(SeedSequence(seed, spawn_key=(k,)))``, after it."""
    return np.random.default_rng(seed if k == 0 else np.random.SeedSequence(seed, spawn_key=(k,)))


def blocks(
    n_clients: int,
    seed: int,
    start: str | dt.date = "2024-01-01",
    end: str | dt.date = "2026-09-30",
    effects: Effects | None = None,
    block: int = BLOCK,
) -> Iterator[Dataset]:
    """The blocks of :func:`generate`, one at a time.

    Parameters
    ----------
    n_clients, seed, start, end, effects
        As for :func:`generate`.
    block : int
        Clients per block. Other than :data:`BLOCK` it gives other data (each block is one
        random stream): it is there for tests of the chunked paths on small data.

    Yields
    ------
    Dataset
        Block ``k``: the clients ``k * block + 1`` to ``(k + 1) * block`` (``client_id``
        numbers them from 1), their episodes sorted by admission date and numbered on from the
        previous block's (``episode_id``), and those episodes' sessions and follow-ups; the
        columns and dtypes of :func:`generate`. Concatenated, the blocks are
        ``generate(n_clients, seed, start, end, effects)``; only one is held at a time.

    Examples
    --------
    >>> from outcomes import synth
    >>> [b.enrollments["client_id"].n_unique() for b in synth.blocks(250, 1, block=100)]
    [100, 100, 50]
    """
    if n_clients < 1:
        raise ValueError("n_clients must be at least 1")
    if block < 1:
        raise ValueError("block must be at least 1")
    eff = effects or Effects()
    start_d, end_d = _as_date(start), _as_date(end)
    if end_d < start_d:
        raise ValueError("end must not be before start")
    horizon = (end_d - start_d).days
    first_episode = 0
    for k, first_client in enumerate(range(0, n_clients, block)):
        n = min(block, n_clients - first_client)
        ds = _block(n, first_client, first_episode, block_rng(seed, k), eff, start_d, horizon)
        first_episode += ds.enrollments.height
        yield ds


def _block(
    n_clients: int,
    first_client: int,
    first_episode: int,
    rng: np.random.Generator,
    eff: Effects,
    start_d: dt.date,
    horizon: int,
) -> Dataset:
    clients = _clients(n_clients, rng)
    # wave 0: every client's first admission, uniform over the period
    wave = {
        "client": np.arange(n_clients, dtype=np.int64),
        "admit": rng.integers(0, horizon + 1, n_clients).astype(np.int64),
        "prior": clients["prior"].copy(),
        "program": np.full(n_clients, -1, dtype=np.int64),
    }
    episodes = []
    for _ in range(40):
        if wave["client"].size == 0:
            break
        ep = _episode_outcomes(wave, clients, eff, horizon, rng)
        episodes.append(ep)
        wave = _next_admissions(ep, clients, eff, horizon, rng)
    ep = {k: np.concatenate([e[k] for e in episodes]) for k in episodes[0]}
    enrollments, order = _enrollments_frame(ep, clients, start_d, first_client, first_episode)
    ep = {k: v[order] for k, v in ep.items()}
    episode_ids = enrollments["episode_id"]
    attendance = _attendance(ep, episode_ids, horizon, start_d, rng)
    followups = _followups(ep, episode_ids, eff, horizon, start_d, rng)
    return Dataset.from_frames(enrollments, attendance, followups)


# ---------------------------------------------------------------------------------------------


def _clients(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    age = rng.choice(len(AGE_GROUPS), n, p=[0.04, 0.16, 0.30, 0.22, 0.15, 0.10, 0.03])
    substance = rng.choice(len(SUBSTANCES), n, p=[0.32, 0.25, 0.20, 0.12, 0.04, 0.07])
    return {
        "age": age,
        "sex": rng.choice(len(SEXES), n, p=[0.38, 0.60, 0.01, 0.01]),
        "race": rng.choice(len(_RACES), n, p=[0.55, 0.15, 0.16, 0.03, 0.03, 0.04, 0.02, 0.02]),
        "substance": substance,
        "co_occurring": rng.random(n) < 0.42,
        "prior": rng.negative_binomial(1.5, 0.55, n).astype(np.int64),
        "referral": rng.choice(
            len(REFERRAL_SOURCES), n, p=[0.30, 0.08, 0.20, 0.25, 0.04, 0.02, 0.08, 0.03]
        ),
        "site": rng.choice(4, n, p=[0.35, 0.30, 0.20, 0.15]),
        "w_fixed": (
            np.array([_SUBSTANCE_W[s] for s in SUBSTANCES])[substance]
            + np.array([_AGE_W[a] for a in AGE_GROUPS])[age]
        ),
    }


def _severity(clients: dict[str, np.ndarray], client: np.ndarray, prior: np.ndarray) -> np.ndarray:
    return (
        0.9 * clients["co_occurring"][client]
        + 0.35 * np.minimum(prior, 4)
        + clients["w_fixed"][client]
        - _SEVERITY_CENTRE
    )


def _place(sev: np.ndarray, court: np.ndarray, eff: Effects, rng: np.random.Generator):
    u = rng.random(sev.size)
    p_res = _expit(
        eff.placement_intercept + eff.placement_severity * sev + eff.placement_court * court
    )
    res_or_iop = np.where(rng.random(sev.size) < p_res, _RES, _IOP)
    return np.select([u < 0.08, u < 0.20, u < 0.26], [_DETOX, _OUT, _PHP], res_or_iop)


def _planned(program: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = program.size
    planned = np.select(
        [program == _IOP, program == _RES, program == _PHP, program == _OUT],
        [
            rng.choice([42, 49, 56], n, p=[0.45, 0.30, 0.25]),
            rng.choice([28, 30, 45, 60, 90], n, p=[0.05, 0.03, 0.33, 0.34, 0.25]),
            np.full(n, 28),
            rng.choice([84, 90], n),
        ],
        rng.choice([5, 7], n),
    ).astype(np.int64)
    missing = (np.isin(program, [_IOP, _RES]) & (rng.random(n) < 0.02)) | (
        (program == _OUT) & (rng.random(n) < 0.3)
    )
    return np.where(missing, -1, planned)


def _episode_outcomes(wave, clients, eff: Effects, horizon: int, rng: np.random.Generator):
    client, admit, prior = wave["client"], wave["admit"], wave["prior"]
    n = client.size
    court = clients["referral"][client] == REFERRAL_SOURCES.index("court")
    sev = _severity(clients, client, prior)
    program = np.where(wave["program"] >= 0, wave["program"], _place(sev, court, eff, rng))
    planned = _planned(program, rng)
    nominal = np.where(planned > 0, planned, np.where(program == _OUT, 90, 60))

    base = np.array([eff.completion_base[p] for p in _PROGRAMS])[program]
    p_complete = _expit(
        base + eff.completion_severity * sev + eff.completion_log_or_iop * (program == _IOP)
    )
    died = rng.random(n) < eff.death_prob * np.exp(0.5 * sev)
    completed = ~died & (rng.random(n) < p_complete)
    # reasons of non-completion: left_early, by program, transferred, incarcerated, other
    p_other = np.array([0.55, 0.14, 0.18, 0.04, 0.09])
    u = rng.random(n)
    cum = np.cumsum(p_other)
    other_reason = np.searchsorted(cum, u * cum[-1]) + 1  # 1..5 -> index into _REASONS below
    other_reason = np.array([1, 2, 3, 4, 6])[np.minimum(other_reason - 1, 4)]
    jailed = court & (rng.random(n) < 0.08)
    reason = np.where(completed, 0, np.where(jailed, 4, other_reason))
    reason = np.where(died, 5, reason)

    jitter = rng.integers(-2, 4, n)
    frac = rng.beta(0.7, 1.8, n)
    los = np.where(
        completed,
        np.maximum(nominal + jitter, 1),
        np.where(reason == 3, np.floor(nominal * rng.beta(2, 2, n)), np.floor(nominal * frac)),
    ).astype(np.int64)
    los = np.where(program == _DETOX, np.clip(los, 0, 10), los)
    discharge = admit + los
    is_open = discharge > horizon

    # latent post-discharge times (days), Weibull PH with the planted linear predictor
    lp = eff.readmission_severity * sev + eff.readmission_log_hr_iop * (program == _IOP)
    shape = eff.readmission_shape
    e1, e2 = rng.exponential(size=n), rng.exponential(size=n)
    t_readmit = eff.readmission_scale_days * (e1 / np.exp(lp)) ** (1 / shape)
    t_use = np.minimum(eff.relapse_scale_days * (e2 / np.exp(lp)) ** (1 / shape), t_readmit)
    p_att = np.where(completed, rng.beta(14, 1.3, n), rng.beta(5, 2, n))
    p_att = np.where(program == _RES, np.maximum(p_att, rng.beta(25, 1.5, n)), p_att)
    return {
        "client": client,
        "program": program,
        "planned": planned,
        "admit": admit,
        "discharge": discharge,
        "reason": reason,
        "open": is_open,
        "prior": prior,
        "sev": sev,
        "t_readmit": t_readmit,
        "t_use": t_use,
        "p_att": p_att,
        "hours": rng.choice([3.0, 3.5, 4.0], n, p=[0.5, 0.25, 0.25]),
        "telehealth": np.where(program == _IOP, rng.choice(3, n, p=[0.75, 0.15, 0.10]), 0),
    }


def _next_admissions(ep, clients, eff: Effects, horizon: int, rng: np.random.Generator):
    """Each closed episode has at most one next admission: a step-down or a readmission."""
    n = ep["client"].size
    closed = ~ep["open"] & (ep["reason"] != 5)
    eligible = closed & np.isin(ep["program"], [_RES, _PHP]) & np.isin(ep["reason"], [0, 3])
    step = eligible & (rng.random(n) < eff.step_down_prob)
    gap = np.select(
        [rng.random(n) < 0.35, rng.random(n) < 0.69],
        [np.zeros(n, dtype=np.int64), rng.integers(1, 8, n)],
        rng.integers(8, 31, n),
    )
    step_program = np.where(rng.random(n) < 0.8, _IOP, _OUT)
    readmit = closed & ~step
    when = np.where(
        step, ep["discharge"] + gap, ep["discharge"] + 1 + ep["t_readmit"].astype(np.int64)
    )
    keep = (step | readmit) & (when <= horizon)
    return {
        "client": ep["client"][keep],
        "admit": when[keep],
        "prior": ep["prior"][keep] + 1,
        "program": np.where(step, step_program, -1)[keep],
    }


def _enrollments_frame(
    ep, clients, start: dt.date, first_client: int, first_episode: int
) -> tuple[pl.DataFrame, np.ndarray]:
    order = np.lexsort((ep["client"], ep["admit"]))
    c = ep["client"][order]
    start_day = np.datetime64(start, "D")
    is_open = ep["open"][order]
    reason = np.array(_REASONS, dtype=object)[ep["reason"][order]]
    program = ep["program"][order]
    modality = np.array(["in_person", "telehealth", "hybrid"], dtype=object)[
        ep["telehealth"][order]
    ]
    planned = ep["planned"][order]
    frame = pl.DataFrame(
        {
            "client_id": "C" + pl.Series(first_client + c + 1).cast(pl.String).str.zfill(7),
            "episode_id": "E"
            + pl.Series(np.arange(first_episode + 1, first_episode + c.size + 1))
            .cast(pl.String)
            .str.zfill(8),
            "program_type": np.array(_PROGRAMS, dtype=object)[program],
            "planned_length_days": pl.Series(np.where(planned > 0, planned, 0)).cast(pl.Int32),
            "admit_date": start_day + ep["admit"][order].astype("timedelta64[D]"),
            "discharge_date": start_day + ep["discharge"][order].astype("timedelta64[D]"),
            "discharge_reason": reason,
            "referral_source": np.array(REFERRAL_SOURCES, dtype=object)[clients["referral"][c]],
            "modality": modality,
            "age_group": np.array(AGE_GROUPS, dtype=object)[clients["age"][c]],
            "sex": np.array(SEXES, dtype=object)[clients["sex"][c]],
            "race_ethnicity": np.array(_RACES, dtype=object)[clients["race"][c]],
            "primary_substance": np.array(SUBSTANCES, dtype=object)[clients["substance"][c]],
            "co_occurring_mh": clients["co_occurring"][c],
            "prior_episodes": pl.Series(ep["prior"][order]).cast(pl.Int32),
            "site_id": np.array(["S01", "S02", "S03", "S04"], dtype=object)[clients["site"][c]],
        }
    )
    frame = frame.with_columns(
        pl.when(pl.Series(planned > 0)).then(pl.col("planned_length_days")).otherwise(None),
        pl.when(pl.Series(is_open))
        .then(None)
        .otherwise(pl.col("discharge_date"))
        .cast(pl.Date)
        .alias("discharge_date"),
        pl.when(pl.Series(is_open))
        .then(None)
        .otherwise(pl.col("discharge_reason"))
        .alias("discharge_reason"),
        pl.col("admit_date").cast(pl.Date),
    )
    return frame, order


def _attendance(ep, episode_ids: pl.Series, horizon: int, start: dt.date, rng) -> pl.DataFrame:
    n = ep["client"].size
    admit = ep["admit"]
    last = np.minimum(ep["discharge"], horizon)
    span = (last - admit + 1).astype(np.int64)
    idx = np.repeat(np.arange(n, dtype=np.int32), span)
    first_row = np.cumsum(span) - span
    offset = (np.arange(idx.size, dtype=np.int64) - np.repeat(first_row, span)).astype(np.int32)
    program = ep["program"][idx]
    wd = offset % 7
    main = np.select(
        [program == _IOP, program == _PHP, program == _OUT],
        [np.isin(wd, (0, 2, 4)), wd < 5, wd == 0],
        True,
    )
    individual = (program == _RES) & (wd == 3)
    s_idx = np.concatenate([idx[main], idx[individual]])
    s_off = np.concatenate([offset[main], offset[individual]])
    s_prog = ep["program"][s_idx]
    n_main = int(main.sum())
    is_ind = np.arange(s_idx.size) >= n_main
    hours = np.select(
        [is_ind, s_prog == _IOP, s_prog == _RES, s_prog == _PHP, s_prog == _OUT],
        [1.0, ep["hours"][s_idx], 3.0, 5.0, 1.5],
        1.0,
    )
    stype = np.select(
        [is_ind | (s_prog == _OUT), s_prog == _DETOX, (s_prog == _RES) & (s_off % 7 == 6)],
        [0, 2, 2],
        1,
    )  # 0 individual, 1 group, 2 education

    # sessions already on the calendar after a non-completed discharge: cancelled or missed
    closed = ~ep["open"] & (ep["reason"] != 0)
    chosen = np.flatnonzero(closed & (rng.random(n) < 0.3))
    k = rng.integers(1, 4, chosen.size)  # 1-3 sessions on days 1, 3, 5 after discharge
    extra_ep = np.repeat(chosen, k)
    nth = np.arange(extra_ep.size) - np.repeat(np.cumsum(k) - k, k)
    extra_off = (ep["discharge"][extra_ep] - admit[extra_ep]) + 1 + 2 * nth
    ok = admit[extra_ep] + extra_off <= horizon
    extra_ep, extra_off = extra_ep[ok], extra_off[ok]

    u, v = rng.random(s_idx.size), rng.random(s_idx.size)
    days_left = ep["discharge"][s_idx] - (admit[s_idx] + s_off)
    fading = (ep["reason"][s_idx] == 1) & ~ep["open"][s_idx] & (days_left < 14)
    p = ep["p_att"][s_idx] * np.where(fading, 0.4, 1.0)
    status = np.where(u < 0.04, 2, np.where(u < 0.065, 3, np.where(v < p, 0, 1)))
    extra_status = np.where(rng.random(extra_ep.size) < 0.6, 3, 1)

    all_idx = np.concatenate([s_idx, extra_ep.astype(np.int32)])
    all_day = np.concatenate([admit[s_idx] + s_off, admit[extra_ep] + extra_off])
    frame = pl.DataFrame(
        {
            "__i": all_idx,
            "episode_id": episode_ids.gather(all_idx),
            "session_date": np.datetime64(start, "D") + all_day.astype("timedelta64[D]"),
            "status": np.array(["attended", "no_show", "excused", "cancelled"], dtype=object)[
                np.concatenate([status, extra_status])
            ],
            "session_type": np.array(["individual", "group", "education"], dtype=object)[
                np.concatenate([stype, np.ones(extra_ep.size, dtype=np.int64)])
            ],
            "hours": np.concatenate(
                [hours, np.where(ep["program"][extra_ep] == _IOP, ep["hours"][extra_ep], 1.0)]
            ),
        }
    )
    return (
        frame.with_columns(pl.col("session_date").cast(pl.Date))
        .sort("__i", "session_date", "session_type")
        .drop("__i")
    )


def _followups(ep, episode_ids, eff: Effects, horizon: int, start: dt.date, rng):
    n = ep["client"].size
    followed = ~ep["open"] & (ep["reason"] != 5) & (rng.random(n) < eff.followup_prob)
    idx = np.repeat(np.flatnonzero(followed), 4)
    target = np.tile(np.array([30, 90, 180, 365]), int(followed.sum()))
    offset = target + rng.integers(-5, 6, idx.size)
    day = ep["discharge"][idx] + offset
    keep = (rng.random(idx.size) < 0.8) & (day <= horizon)
    idx, offset, day = idx[keep], offset[keep], day[keep]
    return pl.DataFrame(
        {
            "episode_id": episode_ids.gather(idx),
            "contact_date": np.datetime64(start, "D") + day.astype("timedelta64[D]"),
            "used_since_discharge": ep["t_use"][idx] <= offset,
            "method": np.array(["phone", "text", "visit"], dtype=object)[
                rng.choice(3, idx.size, p=[0.7, 0.2, 0.1])
            ],
        }
    ).with_columns(pl.col("contact_date").cast(pl.Date))
