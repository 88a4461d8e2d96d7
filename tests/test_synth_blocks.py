"""The generator in blocks: written block by block, an export is the one generated at once.

Blocks of a few hundred clients stand in for :data:`outcomes.synth.BLOCK` (100,000), so that
several blocks, a short last one and the appending writers are all exercised on small data.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

import outcomes
from outcomes import synth
from outcomes.cli import main

from conftest import assert_planted_mistakes_found

TABLES = ("enrollments", "attendance", "followups")
END = dt.date(2026, 9, 30)


def _at_once(n: int, seed: int, block: int) -> outcomes.Dataset:
    parts = list(synth.blocks(n, seed, block=block))
    return outcomes.Dataset.from_frames(
        *(pl.concat([getattr(b, name) for b in parts]) for name in TABLES)
    )


@pytest.fixture(scope="module")
def three_blocks() -> outcomes.Dataset:
    return _at_once(530, seed=7, block=200)  # blocks of 200, 200 and 130 clients


def test_one_block_is_the_seed_stream_and_later_blocks_their_own():
    """Up to BLOCK clients, generate() is one block drawn from default_rng(seed) (so the
    committed sample did not change); later blocks draw from the seed's spawned streams."""
    assert synth.block_rng(5, 0).random() == np.random.default_rng(5).random()
    assert synth.block_rng(5, 1).random() == (
        np.random.default_rng(np.random.SeedSequence(5).spawn(2)[1]).random()
    )
    whole = synth.generate(300, seed=4)
    (only,) = synth.blocks(300, 4)
    for name in TABLES:
        assert getattr(only, name).equals(getattr(whole, name)), name


def test_blocks_number_clients_and_episodes_on(three_blocks):
    enr = three_blocks.enrollments
    clients = enr["client_id"].unique().sort()
    assert clients.to_list() == [f"C{i:07d}" for i in range(1, 531)]
    assert enr["episode_id"].to_list() == [f"E{i:08d}" for i in range(1, enr.height + 1)]
    assert set(three_blocks.attendance["episode_id"]) <= set(enr["episode_id"])
    assert set(three_blocks.followups["episode_id"]) <= set(enr["episode_id"])
    # block after block: the episodes of clients 1-200 first, then 201-400, then 401-530,
    # each block sorted by admission date
    block_of = (enr["client_id"].str.slice(1).cast(pl.Int64) - 1) // 200
    assert block_of.unique(maintain_order=True).to_list() == [0, 1, 2]
    assert block_of.is_sorted()
    for b in range(3):
        assert enr.filter(block_of == b)["admit_date"].is_sorted(), b


def test_later_blocks_are_new_draws_not_copies(three_blocks):
    enr = three_blocks.enrollments.with_columns(
        ((pl.col("client_id").str.slice(1).cast(pl.Int64) - 1) // 200).alias("b")
    )
    case_mix = ["admit_date", "program_type", "age_group", "primary_substance", "prior_episodes"]
    first, second = (enr.filter(pl.col("b") == b).select(case_mix).head(50) for b in (0, 1))
    assert not first.equals(second)


def test_a_block_does_not_depend_on_the_blocks_after_it(three_blocks):
    """The first 400 clients of a 530-client export are the 400-client export."""
    shorter = _at_once(400, seed=7, block=200)
    for name in TABLES:
        ids = shorter.enrollments["episode_id"].implode()
        longer = getattr(three_blocks, name).filter(pl.col("episode_id").is_in(ids))
        assert longer.equals(getattr(shorter, name)), name


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_block_by_block_writes_the_export_generated_at_once(three_blocks, tmp_path, fmt):
    rows = synth.export(530, 7, tmp_path / "blocks", fmt=fmt, block=200)
    synth.write(three_blocks, tmp_path / "once", fmt=fmt)
    assert rows == {name: getattr(three_blocks, name).height for name in TABLES}
    if fmt == "csv":  # appended rows, one header: byte for byte the file written at once
        for name in TABLES:
            streamed = (tmp_path / "blocks" / f"{name}.csv").read_bytes()
            assert streamed == (tmp_path / "once" / f"{name}.csv").read_bytes(), name
    loaded = outcomes.load(tmp_path / "blocks")
    assert loaded.issues.height == 0, loaded.issues.head()
    for name in TABLES:
        assert getattr(loaded, name).equals(getattr(three_blocks, name)), name
        if fmt == "parquet":  # row groups of each block, the contract's dtypes
            schema = pl.read_parquet_schema(tmp_path / "blocks" / f"{name}.parquet")
            assert schema == dict(getattr(three_blocks, name).schema), name


def test_messy_export_in_blocks_plants_what_it_says(tmp_path):
    """The planted mistakes land in the first block; every block is written as text."""
    folder = tmp_path / "messy"
    synth.export(650, 9, folder, fmt="parquet", messy=True, block=300)
    loaded = outcomes.load(folder, on_error="exclude")
    assert_planted_mistakes_found(loaded, ".parquet")
    n_episodes = _at_once(650, 9, 300).enrollments.height
    acct = {r["file"]: r for r in loaded.accounting.iter_rows(named=True)}
    assert acct["enrollments.parquet"]["rows_read"] == n_episodes + 1  # the double row


def test_planted_completion_effect_holds_across_blocks():
    """The check of test_synth's planted completion effect, on blocks of 2,500 clients: each
    block's covariates must stay with its own episodes for the adjusted log OR to be right."""
    truth = synth.Effects().completion_log_or_iop
    enr = _at_once(20000, seed=21, block=2500).enrollments.filter(
        pl.col("program_type").is_in(["iop", "residential"]),
        pl.col("admit_date") <= END - dt.timedelta(days=120),
        pl.col("discharge_reason") != "died",
    )
    y = (enr["discharge_reason"] == "completed").cast(pl.Float64).to_numpy()
    sev = synth.severity(enr)
    iop = (enr["program_type"] == "iop").cast(pl.Float64).to_numpy()
    fit = sm.Logit(y, np.column_stack([np.ones_like(iop), iop, sev])).fit(disp=0)
    lo, hi = fit.conf_int()[1]
    assert lo < truth < hi
    assert fit.params[2] == pytest.approx(synth.Effects().completion_severity, abs=0.1)


def test_foreign_style_above_one_block_is_refused_before_generating(tmp_path, capsys):
    args = ["synth", "--clients", str(synth.BLOCK + 1), "--seed", "1", "--out", str(tmp_path)]
    assert main([*args, "--style", "foreign"]) == 2
    assert "at most 100,000 clients" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
