"""The runner end to end: every agent by name trains for a tiny budget and evaluates; compare resumes."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from twist_agents.runner.agents import AGENTS
from twist_agents.runner.cli import main
from twist_agents.training.evaluate import evaluate, make_eval_env

ENV = "TWIST/CartpoleBalance-Distracting-v0"
TINY = ["--preset", "debug", "--steps", "60", "--max-episode-steps", "30"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_help_names_every_agent_and_the_ray_backend():
    def text(*argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            main([*argv, "--help"])
        return out.getvalue()

    train_help = text("train")
    for name in AGENTS:
        assert name in train_help
    assert "ray" in text("compare").lower()
    for sub in ("eval", "demo"):
        assert text(sub)


@pytest.mark.slow
@pytest.mark.parametrize("agent", list(AGENTS))
def test_every_agent_trains_and_evaluates_through_the_runner(agent, tmp_path):
    run = tmp_path / agent
    extra = ["--distill-updates", "4"] if agent == "twist" else []
    assert main(["train", "--agent", agent, "--env", ENV, "--run-dir", str(run), *TINY, *extra]) == 0
    cfg = json.loads((run / "run.json").read_text())
    assert cfg["agent"] == agent and cfg["env_id"] == ENV and cfg["preset"] == "debug"
    assert cfg["train_randomization"] == ("none" if agent == "dreamer-nodr" else "train")
    # TWIST nests its stages (teacher/, student/); every run has metrics, TensorBoard events, checkpoints.
    assert any(run.rglob("metrics.csv")) and any(run.rglob("events.out.tfevents*"))
    assert any(run.rglob("*.pt")) or any(run.rglob("*.zip"))

    # Pixel agents are evaluated on an env WITHOUT "state" (obs_mode="pixels"): reading it would fail.
    argv = ["eval", str(run), "--episodes", "2", "--video-format", "gif", "--max-episode-steps", "20"]
    assert main(argv) == 0
    returns = pd.read_csv(run / "eval" / "test" / "returns.csv")
    assert len(returns) == 2 and set(returns["agent"]) == {agent} and set(returns["split"]) == {"test"}
    assert (returns["length"] == 20).all() and returns["return"].notna().all()
    assert (run / "eval" / "test" / "episode_000.gif").stat().st_size > 0


class _ZeroAgent:
    """A fixed policy (zero action): enough to exercise the evaluator on a block task."""

    def __init__(self, action_dim: int) -> None:
        self.action_dim = action_dim

    def act(self, obs, state, explore):
        assert set(obs) == {"pixels"}  # pixel agents never receive the state
        return np.zeros(self.action_dim, np.float32), state


def test_eval_reports_success_for_block_tasks(tmp_path):
    env = make_eval_env("TWIST/BlockPush-Sim-v0", ("pixels",), split="test", max_episode_steps=5)
    try:
        result = evaluate(
            _ZeroAgent(env.action_space.shape[0]),
            env,
            ("pixels",),
            episodes=2,
            out_dir=tmp_path,
            video_format="gif",
            labels={"agent": "zero", "env_id": "TWIST/BlockPush-Sim-v0"},
        )
    finally:
        env.close()
    rows = pd.read_csv(result.csv_path)
    assert len(rows) == 2 and set(rows["success"]) <= {0.0, 1.0}
    assert result.success_rate == pytest.approx(rows["success"].mean())
    assert result.videos and result.videos[0].stat().st_size > 0


def test_the_request_decides_the_dreamer_loop_progress_bar_at_every_preset(tmp_path):
    from twist_agents.runner.dreamer_runs import _loop_overrides
    from twist_agents.runner.request import TrainRequest

    for preset in ("debug", "cpu", "paper"):
        for progress in (True, False):
            req = TrainRequest("oracle", ENV, tmp_path, preset=preset, progress=progress)
            assert _loop_overrides(req)["progress"] is progress, (preset, progress)


def test_franka_runs_train_with_the_manipulation_recipe_unless_asked_not_to(tmp_path):
    """``twist train`` on a Franka block task adds the env's recipe (demonstrations in the prefill, standardised
    state, the arm's reflex in the training env) to the preset, for TWIST's teacher and the Dreamer variants alike;
    ``--no-task-recipe`` trains with the preset alone; other envs have no recipe."""
    from twist_agents.runner.dreamer_runs import _loop_overrides
    from twist_agents.runner.recipes import MANIPULATION_ENVS, REFLEX_LIMIT_N, Recipe, recipe_for
    from twist_agents.runner.request import TrainRequest
    from twist_envs.franka.scene import REFLEX_FORCE_N

    def settings(config_path):
        cfg = json.loads(config_path.read_text())
        limit = cfg["env_kwargs"].get("contact_force_limit")
        return cfg["agent"]["world_model"]["standardize_vectors"], cfg["loop"]["prefill_expert"], limit

    tiny = ["--preset", "debug", "--steps", "60", "--max-episode-steps", "30", "--no-progress"]
    env = "TWIST/BlockPush-Sim-v0"
    assert env in MANIPULATION_ENVS
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--agent", "twist", "--env", env, "--run-dir", str(tmp_path / "t"), *tiny,
                     "--distill-updates", "2"]) == 0  # fmt: skip
        assert main(["train", "--agent", "oracle", "--env", env, "--run-dir", str(tmp_path / "o"), *tiny,
                     "--no-task-recipe"]) == 0  # fmt: skip
    assert REFLEX_LIMIT_N == REFLEX_FORCE_N  # the recipe's limit is the arm's reflex, not a copy that drifts
    assert settings(tmp_path / "t" / "teacher" / "config.json") == (True, 0.5, REFLEX_FORCE_N)
    assert settings(tmp_path / "o" / "config.json") == (False, 0.0, None)
    assert recipe_for(ENV) == Recipe()
    cartpole = _loop_overrides(TrainRequest("oracle", ENV, tmp_path, preset="cpu"))
    assert "prefill_expert" not in cartpole and "prefill" not in cartpole
