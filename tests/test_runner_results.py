"""Compare results: Table I and Oracle-normalised IQM (rliable) computed from stored per-episode returns."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twist_agents.runner.results import (
    PAPER_TABLE_I,
    collect_episodes,
    iqm_with_ci,
    learning_curves,
    markdown_table,
    normalized_score_matrices,
    summary_table,
    write_results,
)

# Per-episode returns: {agent: {env: {seed: [returns]}}}
RETURNS = {
    "oracle": {"A": {0: [100.0, 100.0], 1: [100.0, 100.0]}, "B": {0: [50.0, 50.0], 1: [50.0, 50.0]}},
    "twist": {"A": {0: [0.0, 10.0], 1: [20.0, 1000.0]}, "B": {0: [5.0, 15.0], 1: [25.0, 35.0]}},
}


def _write_runs(root: Path) -> None:
    """Lay out run directories exactly as the evaluator writes them (eval/test/returns.csv)."""
    for agent, envs in RETURNS.items():
        for env, seeds in envs.items():
            for seed, returns in seeds.items():
                d = root / agent / env / f"seed{seed}" / "eval" / "test"
                d.mkdir(parents=True)
                with (d / "returns.csv").open("w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["agent", "env_id", "seed", "split", "episode", "return", "length", "success"])
                    for i, r in enumerate(returns):
                        w.writerow([agent, env, seed, "test", i, r, 10, ""])
                run = d.parent.parent
                (run / "run.json").write_text(f'{{"agent": "{agent}", "env_id": "{env}", "seed": {seed}}}')
                (run / "metrics.csv").write_text("step,train/return\n10,1.0\n20,2.0\n")


def test_hand_computed_iqm_on_known_numbers():
    # The middle half of 1..8 is 3, 4, 5, 6 -> IQM 4.5 (and the CI brackets it).
    r = iqm_with_ci({"x": np.arange(1.0, 9.0).reshape(4, 2)}, reps=500)["x"]
    assert r.iqm == pytest.approx(4.5)
    assert 1.0 <= r.ci_low <= 4.5 <= r.ci_high <= 8.0


def test_table_and_iqm_from_stored_episode_returns(tmp_path):
    _write_runs(tmp_path / "runs")
    episodes = collect_episodes(tmp_path / "runs")
    assert len(episodes) == 16

    table = summary_table(episodes).set_index(["agent", "env_id"])
    # twist on A: all episodes 0, 10, 20, 1000 -> mean 257.5; per-seed means 5 and 510 -> std 252.5.
    assert table.loc[("twist", "A"), "mean"] == pytest.approx(257.5)
    assert table.loc[("twist", "A"), "std"] == pytest.approx(252.5)
    assert table.loc[("twist", "B"), "mean"] == pytest.approx(20.0)
    assert table.loc[("oracle", "A"), "std"] == pytest.approx(0.0)

    scores = normalized_score_matrices(episodes)
    # Normalised by the Oracle's task mean (100 on A, 50 on B); columns = tasks, rows = episodes.
    np.testing.assert_allclose(scores["twist"], [[0.0, 0.1], [0.1, 0.3], [0.2, 0.5], [10.0, 0.7]])
    np.testing.assert_allclose(scores["oracle"], np.ones((4, 2)))
    # By hand: sorted 0, .1, .1, .2, .3, .5, .7, 10 -> middle half .1, .2, .3, .5 -> IQM 0.275
    # (the plain mean, 1.4875, is dragged up by the outlier 10).
    iqm = iqm_with_ci(scores, reps=500, seed=0)
    assert iqm["twist"].iqm == pytest.approx(0.275)
    assert iqm["twist"].ci_low <= 0.275 <= iqm["twist"].ci_high
    assert iqm["oracle"].iqm == pytest.approx(1.0)
    assert iqm["oracle"].ci_low == pytest.approx(1.0) and iqm["oracle"].ci_high == pytest.approx(1.0)

    files = write_results(tmp_path / "runs", tmp_path / "results", paper=True, reps=200)
    for key in ("table_md", "table_csv", "iqm_csv", "iqm_png", "learning_curves_png", "episodes"):
        assert files[key].exists() and files[key].stat().st_size > 0, key
    assert "257.5 ± 252.5" in files["table_md"].read_text()
    stored = pd.read_csv(files["iqm_csv"]).set_index("agent")
    assert stored.loc["twist", "iqm"] == pytest.approx(0.275)


def test_paper_table_columns_read_correctly():
    # Table I: "Oracle Dreamer" is ONE column, then TWIST, Dreamer w/o DR, w/ DR, State Recon., Asym. SAC.
    cart = PAPER_TABLE_I["TWIST/CartpoleBalance-Distracting-v0"]
    assert cart["oracle"] == (992.9, 1.7) and cart["twist"] == (954.5, 37.4)
    assert cart["dreamer-nodr"] == (349.3, 19.0) and cart["asym-sac"] == (353.1, 18.6)
    assert PAPER_TABLE_I["TWIST/HopperStand-Distracting-v0"]["asym-sac"] == (57.7, 86.8)
    assert PAPER_TABLE_I["TWIST/CupCatch-Distracting-v0"]["state-recon"] == (627.0, 194.7)
    assert len(PAPER_TABLE_I) == 6 and all(len(row) == 6 for row in PAPER_TABLE_I.values())


def test_markdown_marks_success_rate_for_block_tasks():
    df = pd.DataFrame(
        {
            "agent": ["twist"] * 4,
            "env_id": ["TWIST/BlockPush-Sim-v0"] * 4,
            "seed": [0, 0, 1, 1],
            "split": "test",
            "episode": [0, 1, 0, 1],
            "return": [1.0, 2.0, 3.0, 4.0],
            "length": 5,
            "success": [1.0, 0.0, 1.0, 1.0],
        }
    )
    md = markdown_table(summary_table(df))
    assert "2.5 ± 1.0 (75% success)" in md


def test_learning_curves_leave_out_the_episode_a_budget_cut(tmp_path):
    """The last, shorter episode of a budgeted run is a partial return; the curve must not show it as a collapse."""
    import json

    run = tmp_path / "runs" / "oracle" / "TWIST_CartpoleBalance-Distracting-v0" / "seed0"
    run.mkdir(parents=True)
    cfg = {"agent": "oracle", "env_id": "E", "seed": 0, "budget_exhausted": True}
    (run / "run.json").write_text(json.dumps(cfg))
    pd.DataFrame(
        {
            "step": [500, 750, 1000, 1200],
            "train/return": [300.0, np.nan, 600.0, 150.0],
            "train/length": [500, np.nan, 500, 200],
            "eval/return": [np.nan, 400.0, np.nan, np.nan],
        }
    ).to_csv(run / "metrics.csv", index=False)
    curves = learning_curves(tmp_path / "runs")
    assert curves["return"].tolist() == [300.0, 600.0]
    # Without a budget a short last episode ended by itself (e.g. the task terminated): it stays.
    (run / "run.json").write_text(json.dumps({**cfg, "budget_exhausted": False}))
    assert learning_curves(tmp_path / "runs")["return"].tolist() == [300.0, 600.0, 150.0]
    (run / "run.json").write_text(json.dumps(cfg))
    # A run that ended on a full episode keeps it.
    pd.DataFrame({"step": [500, 1000], "train/return": [300.0, 600.0], "train/length": [500, 500]}).to_csv(
        run / "metrics.csv", index=False
    )
    assert learning_curves(tmp_path / "runs")["return"].tolist() == [300.0, 600.0]
