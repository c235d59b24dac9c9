"""``twist compare``: local grid -> results from stored returns; resume; Ray backend gives the same files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from twist_agents.runner.cli import main

ENV = "TWIST/CartpoleBalance-Distracting-v0"
GRID = [
    "--agents",
    "oracle,asym-sac",
    "--envs",
    ENV,
    "--seeds",
    "1",
    "--preset",
    "debug",
    "--steps",
    "40",
    "--max-episode-steps",
    "20",
    "--eval-episodes",
    "2",
    "--bootstrap-reps",
    "200",
]
RESULT_NAMES = (
    "run.json",
    "metrics.csv",
    "returns.csv",
    "DONE",
    "table.md",
    "table.csv",
    "episodes.csv",
    "iqm.csv",
    "iqm.png",
    "learning_curves.png",
)


def _result_files(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.name in RESULT_NAMES}


@pytest.fixture(scope="module")
def local_grid(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("grid") / "local"
    assert main(["compare", *GRID, "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_compare_local_writes_results_and_resumes(local_grid):
    results = local_grid / "results"
    for name in ("table.md", "table.csv", "iqm.csv", "iqm.png", "learning_curves.png", "episodes.csv"):
        assert (results / name).stat().st_size > 0, name
    done = sorted(local_grid.glob("runs/*/*/seed0/DONE"))
    assert len(done) == 2
    stamps = [p.stat().st_mtime_ns for p in done]
    episodes = pd.read_csv(results / "episodes.csv")
    assert len(episodes) == 4 and set(episodes["agent"]) == {"oracle", "asym-sac"}
    # The Oracle normalises itself: every score is return / mean, so the IQM's CI brackets 1.
    iqm = pd.read_csv(results / "iqm.csv").set_index("agent")
    assert iqm.loc["oracle", "ci_low"] <= 1.0 <= iqm.loc["oracle", "ci_high"]
    table = pd.read_csv(results / "table.csv").set_index("agent")
    sac = episodes[episodes["agent"] == "asym-sac"]["return"]
    assert table.loc["asym-sac", "mean"] == pytest.approx(sac.mean())

    # A second call finds every run finished: nothing is retrained, results are rewritten.
    assert main(["compare", *GRID, "--out", str(local_grid)]) == 0
    assert [p.stat().st_mtime_ns for p in done] == stamps


# A Ray head in a child process we own: prints its address, shuts Ray down when stdin closes.
_HEAD = """
import sys, ray
ctx = ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 1024**2)
print(ctx.address_info["gcs_address"], flush=True)
sys.stdin.read()
ray.shutdown()
"""


@pytest.fixture()
def ray_address(monkeypatch):
    pytest.importorskip("ray", reason='the Ray backend needs the extra: pip install "twist[ray]"')
    # Ray >= 2.5x turns on token authentication for new local clusters (and writes ~/.ray/auth_token);
    # this throw-away cluster on this machine runs without it (head, driver and workers alike).
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    head = subprocess.Popen(
        [sys.executable, "-c", _HEAD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        address = head.stdout.readline().strip()
        assert address, "the Ray head did not start"
        yield address
    finally:
        head.stdin.close()
        head.wait(timeout=60)


@pytest.mark.slow
def test_ray_backend_writes_the_same_result_files(local_grid, ray_address, tmp_path):
    out = tmp_path / "ray"
    assert main(["compare", *GRID, "--out", str(out), "--backend", "ray", "--address", ray_address]) == 0
    assert _result_files(out) == _result_files(local_grid)
    a = pd.read_csv(local_grid / "results" / "episodes.csv")
    b = pd.read_csv(out / "results" / "episodes.csv")
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 4
    # Same seeds, same (deterministic, CPU) training: the evaluation returns agree.
    key = ["agent", "seed", "episode"]
    pd.testing.assert_series_equal(
        a.sort_values(key)["return"].reset_index(drop=True),
        b.sort_values(key)["return"].reset_index(drop=True),
        rtol=1e-4,
    )


def test_ray_backend_without_ray_names_the_extra(monkeypatch, tmp_path, capsys):
    from gymnasium.error import DependencyNotInstalled

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the optional extra were not installed
    monkeypatch.delenv("TWIST_DEBUG", raising=False)
    assert main(["compare", *GRID, "--out", str(tmp_path / "x"), "--backend", "ray"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "twist[ray]" in err[0]  # one line, no traceback
    with pytest.raises(DependencyNotInstalled, match=r"twist\[ray\]"):  # --debug: the exception itself
        main(["compare", *GRID, "--out", str(tmp_path / "x"), "--backend", "ray", "--debug"])
