"""``benchmarks/franka_twist.py --seed-list``: seeds added in a later call keep the earlier rows of the same grid."""

from __future__ import annotations

import argparse
import importlib.util
from dataclasses import asdict
from pathlib import Path

import pytest

from twist_agents.runner.recipes import recipe_for
from twist_envs.franka.tasks import REWARD_VERSION

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("franka_twist_bench", ROOT / "benchmarks" / "franka_twist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _earlier(runs_dir: str) -> dict:
    return {
        "runs_dir": runs_dir,
        "reward_version": REWARD_VERSION,
        "task_recipe": {"push": asdict(recipe_for("TWIST/BlockPush-Sim-v0"))},
        "commit": "abc123",
        "rows": [
            {"task": "push", "seed": 0, "teacher_state": 0.95},
            {"task": "push", "seed": 2, "teacher_state": 0.5},  # this call re-evaluates seed 2: replaced
        ],
        "curves": {"twist TWIST/BlockPush-Sim-v0 0": [[1.0, 2.0]], "twist TWIST/BlockPush-Sim-v0 2": [[9.0, 9.0]]},
    }


def test_seed_list_keeps_the_other_seeds_rows_of_the_same_grid(bench, capsys):
    args = argparse.Namespace(runs_dir=Path("runs/grid"), tasks=["push"])
    new = {
        "rows": [{"task": "push", "seed": 2, "teacher_state": 0.1}, {"task": "push", "seed": 3, "teacher_state": 0.0}],
        "curves": {"twist TWIST/BlockPush-Sim-v0 2": [[3.0, 4.0]]},
    }
    merged = bench.keep_earlier_rows(_earlier("runs/grid"), new, args)
    assert [(r["seed"], r["teacher_state"]) for r in merged["rows"]] == [(0, 0.95), (2, 0.1), (3, 0.0)]
    assert merged["rows"][0]["from_commit"] == "abc123" and "from_commit" not in merged["rows"][1]
    assert merged["curves"]["twist TWIST/BlockPush-Sim-v0 2"] == [[3.0, 4.0]]  # this call's curve wins
    assert "twist TWIST/BlockPush-Sim-v0 0" in merged["curves"]
    # Another grid's rows (other runs dir, so possibly another reward or recipe) are never mixed in.
    alone = bench.keep_earlier_rows(_earlier("runs/other"), new, args)
    assert alone is new
    assert "not kept" in capsys.readouterr().out


def test_cpu_model_names_the_cpu_count(bench):
    assert bench.cpu_model().endswith(" cpus")
