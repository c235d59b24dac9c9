"""The deployment path: a trained run evaluated through the real env (``twist eval RUN --env ... --env-kwargs``).

One ``twist`` run is trained for seconds (``debug`` preset, 40 teacher steps, 2 distillation updates) on
TWIST/BlockPush-Sim-v0 and deployed through TWIST/BlockPush-Real-v0 with the sim twins: the CLI end to end,
the docs' Python snippet, the view randomisation switch, and the one-line refusals.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch

import twist_envs  # noqa: F401  (registers the ids)
from twist_agents.errors import UserError
from twist_agents.runner.cli import main
from twist_agents.runner.deploy import env_kwargs_for, parse_env_kwargs

ROOT = Path(__file__).resolve().parents[1]
SIM, REAL = "TWIST/BlockPush-Sim-v0", "TWIST/BlockPush-Real-v0"
TWINS = ["--env", REAL, "--env-kwargs", "robot=sim,camera=sim"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A twist run on the push task, trained for seconds (it acts; it does not succeed)."""
    torch.set_num_threads(1)
    run_dir = tmp_path_factory.mktemp("deploy") / "twist"
    argv = ["train", "--agent", "twist", "--env", SIM, "--run-dir", str(run_dir), "--preset", "debug"]
    assert main([*argv, "--steps", "40", "--max-episode-steps", "10", "--distill-updates", "2", "--no-progress"]) == 0
    return run_dir


def one_line_error(capsys, argv: list[str], *words: str, code: int = 2) -> str:
    """``main(argv)`` exits ``code`` with exactly one stderr line holding every word, no traceback."""
    assert main(argv) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and "WARNING" not in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def session_dirs(run: Path) -> list[Path]:
    root = run / "eval" / REAL.replace("/", "_")
    return sorted(root.iterdir()) if root.exists() else []


# ---------------------------------------------------------------------------------------------- end to end
def test_twist_run_deploys_through_the_real_env_on_the_sim_twins(run, capsys):
    before = session_dirs(run)
    assert main(["eval", str(run), *TWINS, "--episodes", "1", "--video-format", "gif"]) == 0
    out = capsys.readouterr().out
    (session,) = [d for d in session_dirs(run) if d not in before]
    assert f"{REAL}: mean return" in out and "success rate" in out and str(session / "episodes.jsonl") in out

    rows = pd.read_csv(session / "returns.csv")
    assert len(rows) == 1 and set(rows["env_id"]) == {REAL} and set(rows["train_env_id"]) == {SIM}
    assert rows["success"].iloc[0] in (0.0, 1.0) and rows["length"].iloc[0] == 10  # the run's cap

    # The real env's own episode log, written by the env (not the runner), judged by the sim twin's operator.
    (rec,) = [json.loads(line) for line in (session / "episodes.jsonl").read_text().splitlines()]
    assert rec["status"] == "done" and rec["steps"] == 10 and rec["robot"] == "sim" and rec["camera"] == "sim"
    assert rec["judged_by"] == "SimOperator" and rec["success"] == bool(rows["success"].iloc[0])
    assert rec["return"] == pytest.approx(rows["return"].iloc[0])
    assert rec["seed"] == 1_000_000  # the runner's first eval seed of run seed 0
    frames = np.load(session / rec["frames"])
    assert frames["pixels"].shape == (11, 64, 64, 3) and frames["actions"].shape == (10, 3)

    # The paper's real-run view randomisation was on, and the deployment record says what ran.
    assert rec["view_randomization"] is True and len(rec["view"]["camera_offset_m"]) == 3
    assert set(rec["view"]["brightness"]) == {"key_light", "fill_light"}
    dep = json.loads((session / "deployment.json").read_text())
    assert dep["env_id"] == REAL and dep["env_kwargs"]["robot"] == "sim" and dep["view_randomization"] is True
    assert dep["train_randomization"] == "train" and dep["env_kwargs"]["episode_steps"] == 10
    assert (session / "episode_000.gif").stat().st_size > 0


def test_view_randomization_can_be_turned_off_for_a_calibration_run(run, capsys):
    before = session_dirs(run)
    argv = ["eval", str(run), "--env", REAL, "--env-kwargs", "robot=sim,camera=sim,view_randomization=false"]
    assert main([*argv, "--episodes", "1", "--video-episodes", "0"]) == 0
    (session,) = [d for d in session_dirs(run) if d not in before]
    rec = json.loads((session / "episodes.jsonl").read_text())
    assert rec["view_randomization"] is False and rec["view"] is None
    assert json.loads((session / "deployment.json").read_text())["view_randomization"] is False


def test_the_sim_camera_moves_and_dims_per_episode_unless_switched_off():
    place = {"block_xy": [0.5, 0.0], "goal_xy": [0.6, 0.1]}  # the same scene in every episode

    def first_frames(**kw) -> list[np.ndarray]:
        env = gym.make(REAL, robot="sim", camera="sim", **kw)
        try:
            return [env.reset(seed=s, options=place)[0]["pixels"].astype(int) for s in (0, 1, 0)]
        finally:
            env.close()

    a, b, a_again = first_frames()
    assert np.abs(a - b).mean() > 3.0 and np.array_equal(a, a_again)  # drawn from the reset seed
    a, b, _ = first_frames(view_randomization=False)
    assert np.array_equal(a, b)


def test_the_docs_python_snippet_runs(run, capsys):
    text = (ROOT / "docs" / "hardware.md").read_text()
    section = text[text.index("The same in Python") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace('"runs/twist/TWIST_BlockPush-Sim-v0/seed0"', repr(str(run)))
    exec(compile(code, "docs/hardware.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    assert printed[:1] == ["0"] and printed[1] in ("True", "False")
    records = [json.loads(line) for line in (run / "eval" / "manual" / "episodes.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["done", "done"] and all(r["steps"] == 20 for r in records)


def test_an_unfinished_episode_is_logged_as_aborted(tmp_path):
    env = gym.make(REAL, robot="sim", camera="sim", log_dir=tmp_path)
    env.reset(seed=0)
    for _ in range(2):
        env.step(np.zeros(3, np.float32))
    env.close()
    (rec,) = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert rec["status"] == "aborted" and "closed" in rec["reason"] and rec["steps"] == 2 and rec["success"] is None


# ---------------------------------------------------------------------------------------------- refusals
def test_an_oracle_run_cannot_be_deployed_on_the_real_robot(tmp_path, capsys):
    # Refused from run.json alone, before anything is loaded or opened: a trained oracle would only take longer.
    run_dir = tmp_path / "oracle"
    run_dir.mkdir()
    cfg = {"agent": "oracle", "env_id": SIM, "preset": "debug", "seed": 0, "max_episode_steps": 10}
    (run_dir / "run.json").write_text(json.dumps(cfg))
    line = one_line_error(capsys, ["eval", str(run_dir), *TWINS, "--episodes", "1"], "oracle", "state", REAL)
    assert "no simulator state" in line and "pixel agent" in line
    assert not (run_dir / "eval").exists()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ("robot", ["'robot' is not KEY=VALUE", "robot=sim,camera=sim"]),
        ("robt=sim,camera=sim", ["takes no keyword 'robt'", "did you mean robot?"]),
        ("robot=sim,robot=sim", ["robot is given twice"]),
        ("robot_kwargs={bad}", ["not valid JSON"]),
        ("max_episode_steps=5", ["--max-episode-steps"]),
        ("robot=ur5,camera=sim", ["robot must be one of"]),
    ],
)
def test_bad_env_kwargs_are_one_line(run, capsys, kwargs, words):
    before = session_dirs(run)
    one_line_error(capsys, ["eval", str(run), "--env", REAL, "--env-kwargs", kwargs, "--episodes", "1"], *words)
    assert session_dirs(run) == before  # refused before a session folder exists


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--env", "TWIST/BlockLift-Real-v0", "--env-kwargs", "robot=sim,camera=sim"], ["(4,)", "(3,)", REAL]),
        ([*TWINS, "--env-kwargs", "image_size=32"], ["(32, 32, 3)", "(64, 64, 3)", "image_size=64"]),
        ([*TWINS, "--split", "test"], ["no randomisation splits", "view_randomization=false"]),
    ],
)
def test_an_env_that_does_not_fit_the_run_is_one_line(run, capsys, extra, words):
    one_line_error(capsys, ["eval", str(run), *extra, "--episodes", "1"], *words)


def test_env_kwargs_values_are_typed_by_the_env_keywords():
    text = "robot=sim,camera_serial=012345678901,image_size=64,max_step_m=0.01,interactive=false,"
    text += 'camera_kwargs={"crop": [0, 0, 480, 480]}'
    assert env_kwargs_for(REAL, text) == {
        "robot": "sim",
        "camera_serial": "012345678901",  # typed as text by the env: digits stay text
        "image_size": 64,
        "max_step_m": 0.01,
        "interactive": False,
        "camera_kwargs": {"crop": [0, 0, 480, 480]},
    }
    assert parse_env_kwargs(["a=1", "b='x,y'"]) == {"a": "1", "b": "'x,y'"}
    with pytest.raises(UserError, match="takes no keyword 'obs_mode'"):
        env_kwargs_for(REAL, {"obs_mode": "pixels"})


def test_a_device_failure_mid_episode_is_one_line_and_logged_as_aborted(run, capsys, monkeypatch):
    from twist_envs.franka.hardware import HardwareError, SimRobot

    calls = {"n": 0}
    move = SimRobot.move_ee

    def failing_move(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise HardwareError("robot at sim: reflex during recovery (induced)")
        return move(self, *args, **kwargs)

    monkeypatch.setattr(SimRobot, "move_ee", failing_move)
    before = session_dirs(run)
    one_line_error(capsys, ["eval", str(run), *TWINS, "--episodes", "1"], "reflex", "arm was stopped", code=1)
    (session,) = [d for d in session_dirs(run) if d not in before]
    rec = json.loads((session / "episodes.jsonl").read_text())
    assert rec["status"] == "aborted" and "HardwareError" in rec["reason"] and rec["steps"] == 2
    assert not (session / "returns.csv").exists()
