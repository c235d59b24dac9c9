"""Wall-clock training budgets: the loop, SAC, TWIST's split, the CLI's ``--budget-minutes``, ``compare``."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import types

import gymnasium as gym
import pytest
import torch

import twist_agents.training.loop as loop_module
from twist_agents.data import EpisodeStore
from twist_agents.runner.cli import main
from twist_agents.training.checkpoints import latest_checkpoint
from twist_agents.training.loop import LOOP_PRESETS, train

ENV = "TWIST/CartpoleBalance-Distracting-v0"


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


# ------------------------------------------------------------------------------------------------ the loop
class _Clock:
    """A fake wall clock that only env steps advance (1 s each): the loop's budget decisions become exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now


class _Ticking(gym.Wrapper):
    def __init__(self, env: gym.Env, clock: _Clock) -> None:
        super().__init__(env)
        self.clock = clock

    def step(self, action):
        self.clock.now += 1.0
        return self.env.step(action)


def _clocked_run(monkeypatch, episode: int = 50):
    import twist_envs  # noqa: F401
    from twist_agents.dreamer import DreamerAgent, dreamer_config

    clock = _Clock()
    monkeypatch.setattr(loop_module, "time", types.SimpleNamespace(time=clock.time))
    env = _Ticking(gym.make(ENV, obs_mode="state", max_episode_steps=episode), clock)
    eval_env = _Ticking(gym.make(ENV, obs_mode="state", max_episode_steps=30), clock)
    cfg = dataclasses.replace(
        LOOP_PRESETS["debug"],
        steps=10_000,
        prefill=10_000,  # random actions: this is about the clock, not learning
        eval_every=episode,
        eval_episodes=1,
        checkpoint_every=10_000,
        progress=False,
        tensorboard=False,
    )
    agent = DreamerAgent(dreamer_config("debug"), env.observation_space, env.action_space)
    return env, eval_env, agent, cfg


def test_loop_budget_cuts_the_episode_as_a_truncation_and_excludes_evaluation(tmp_path, monkeypatch):
    env, eval_env, agent, cfg = _clocked_run(monkeypatch)
    summary = train(agent, env, tmp_path, dataclasses.replace(cfg, budget_s=123.5), eval_env=eval_env)
    # 124 env steps of 1 s reach 123.5 s; the two evaluations (30 s each, after episodes 1 and 2) do not count.
    assert summary["env_steps"] == 124 and summary["budget_exhausted"] is True
    assert summary["eval_s"] == 60.0 and summary["train_s"] == pytest.approx(124.0)
    assert summary["wall_s"] == pytest.approx(184.0)
    store = EpisodeStore(tmp_path / "episodes")
    eps = list(store)
    assert [len(e["reward"]) - 1 for e in eps] == [50, 50, 24]
    for e in eps:  # every stored episode is valid: one start, one end, no terminal (cartpole never terminates)
        assert e["is_first"][0] and not e["is_first"][1:].any()
        assert e["is_last"][-1] and not e["is_last"][:-1].any()
        assert not e["is_terminal"].any()
    ckpt = torch.load(tmp_path / "checkpoints" / "ckpt-0000000124" / "loop.pt", weights_only=False)
    assert ckpt["counters"]["eval_s"] == 60.0 and ckpt["counters"]["wall_s"] == pytest.approx(184.0)

    # Resumed with the same budget: already spent, so no new episode and no new step.
    again = train(agent, env, tmp_path, dataclasses.replace(cfg, budget_s=123.5), eval_env=eval_env, resume=True)
    assert again["env_steps"] == 124 and again["budget_exhausted"] is True and len(store) == 3

    # A larger budget continues from the persisted clock: 76 more seconds of training; the evaluations after
    # the fourth episode (step 174) and the cut fifth one (step 200) take 60 s more wall clock and do not count.
    more = train(agent, env, tmp_path, dataclasses.replace(cfg, budget_s=199.5), eval_env=eval_env, resume=True)
    assert more["env_steps"] == 200 and more["budget_exhausted"] is True
    assert [len(e["reward"]) - 1 for e in EpisodeStore(tmp_path / "episodes")] == [50, 50, 24, 50, 26]
    assert more["eval_s"] == 120.0 and more["train_s"] == pytest.approx(200.0)
    env.close()
    eval_env.close()


def test_loop_budget_spent_between_episodes_still_checkpoints(tmp_path, monkeypatch):
    env, eval_env, agent, cfg = _clocked_run(monkeypatch)

    def slow_episode_end(summary):  # 10 s of training-time bookkeeping after the episode's last step
        env.clock.now += 10.0

    cfg = dataclasses.replace(cfg, budget_s=55.0, eval_every=0)
    summary = train(agent, env, tmp_path, cfg, on_episode=slow_episode_end)
    # Step 50 (50 s) ends the episode under the budget; its end takes the clock to 60 s: no second episode,
    # and the stored one is covered by a checkpoint (a resume, or TWIST's teacher, needs one).
    assert summary["env_steps"] == 50 and summary["budget_exhausted"] is True
    assert summary["train_s"] == pytest.approx(60.0)
    assert latest_checkpoint(tmp_path).name == "ckpt-0000000050"
    env.close()
    eval_env.close()


def test_loop_without_budget_is_not_cut_and_reports_its_clock(tmp_path, monkeypatch):
    env, eval_env, agent, cfg = _clocked_run(monkeypatch, episode=20)
    summary = train(agent, env, tmp_path, dataclasses.replace(cfg, steps=60, eval_every=0))
    assert summary["env_steps"] == 60 and summary["budget_exhausted"] is False
    assert summary["train_s"] == pytest.approx(60.0) and summary["eval_s"] == 0.0
    with pytest.raises(ValueError, match="budget_s"):
        train(agent, env, tmp_path / "x", dataclasses.replace(cfg, budget_s=-1.0))
    env.close()
    eval_env.close()


# ------------------------------------------------------------------------------------------------ SAC
def test_sac_stops_at_its_budget(tmp_path):
    from twist_agents.sac.train import CLOCK, FINAL, LATEST, read_clock, train_asym_sac

    agent = train_asym_sac(ENV, tmp_path, "debug", steps=1_000_000, max_episode_steps=20, progress=False, budget_s=2.0)
    clock = read_clock(tmp_path)
    assert clock["budget_exhausted"] is True and clock["num_timesteps"] == agent.model.num_timesteps
    assert 2.0 <= clock["train_s"] < 10.0  # one env step (+ its updates) and the last checkpoint past the budget
    assert 0 < agent.model.num_timesteps < 1_000_000  # the budget, not the steps, ended it
    assert (tmp_path / FINAL).exists() and (tmp_path / LATEST).exists() and (tmp_path / CLOCK).exists()


def test_sac_budget_clock_accumulates_across_resumes(tmp_path, monkeypatch):
    import twist_agents.sac.train as sac_train

    clock = {"now": 0.0}

    def tick() -> float:  # a fake clock: every reading is 0.25 s later (the callback reads it once per step)
        clock["now"] += 0.25
        return clock["now"]

    monkeypatch.setattr(sac_train, "time", types.SimpleNamespace(perf_counter=tick))
    kwargs = {"preset": "debug", "steps": 1_000_000, "max_episode_steps": 20, "progress": False}
    first = sac_train.train_asym_sac(ENV, tmp_path, budget_s=2.0, **kwargs)
    # Step k reads 0.25 k s: the budget of 2 s is reached at step 8; the reading after the last checkpoint: 2.25 s.
    assert first.model.num_timesteps == 8
    assert sac_train.read_clock(tmp_path) == {
        "train_s": 2.25,
        "num_timesteps": 8,
        "budget_s": 2.0,
        "budget_exhausted": True,
    }
    # Resumed with the same budget: spent, so nothing trains (and the final checkpoint is still there).
    again = sac_train.train_asym_sac(ENV, tmp_path, budget_s=2.0, **kwargs)
    assert again.model.num_timesteps == 8 and sac_train.read_clock(tmp_path)["train_s"] == 2.25
    # A larger budget continues from the recorded 2.25 s: 3 more steps reach 3 s (from 0, it would take 12).
    more = sac_train.train_asym_sac(ENV, tmp_path, budget_s=3.0, **kwargs)
    assert more.model.num_timesteps == 11 and sac_train.read_clock(tmp_path)["train_s"] == 3.25


# ------------------------------------------------------------------------------------------------ TWIST
def _twist(run_dir, teacher_steps: int, budget_s: float):
    from twist_agents.twist.pipeline import read_summary, train_twist

    agent = train_twist(
        ENV,
        run_dir,
        preset="debug",
        teacher_steps=teacher_steps,
        distill_updates=1_000_000,
        max_episode_steps=30,
        progress=False,
        loop_overrides={"eval_every": 0, "prefill": 30},
        budget_s=budget_s,
    )
    return agent, read_summary(run_dir)


def test_twist_gives_the_teacher_its_share_and_distillation_the_rest(tmp_path):
    from twist_agents.twist.pipeline import TEACHER_SHARE

    budget = 4.5
    agent, s = _twist(tmp_path / "long", 1_000_000, budget)
    # The teacher's loop stopped at its share; distillation stopped on time at the update boundary after the rest.
    assert s["teacher_budget_exhausted"] is True and s["teacher_budget_s"] == pytest.approx(budget * TEACHER_SHARE)
    assert budget * TEACHER_SHARE <= s["teacher_s"] < budget * TEACHER_SHARE + 3.0
    assert s["distill_budget_s"] == pytest.approx(budget - s["teacher_s"])
    assert s["distill_stopped_on_time"] is True and s["budget_exhausted"] is True
    assert s["distill_budget_s"] <= s["distill_s"] < s["distill_budget_s"] + 3.0
    assert s["train_s"] == pytest.approx(s["teacher_s"] + s["distill_s"]) and budget <= s["train_s"] < budget + 5.0
    assert 0 < agent.updates < 1_000_000 and s["distill_updates_done"] == agent.updates
    steps = s["teacher_env_steps"]

    # Resumed with the same budget: both stages are spent, nothing trains.
    again, s2 = _twist(tmp_path / "long", 1_000_000, budget)
    assert again.updates == agent.updates and s2["teacher_env_steps"] == steps
    assert s2["distill_s"] == pytest.approx(s["distill_s"], abs=0.5)

    # A teacher that finishes its steps early leaves its unused time to the student.
    _, short = _twist(tmp_path / "short", 30, budget)
    assert short["teacher_budget_exhausted"] is False and short["teacher_env_steps"] == 30
    assert short["distill_budget_s"] == pytest.approx(budget - short["teacher_s"])
    assert short["distill_budget_s"] > budget * (1 - TEACHER_SHARE)
    assert short["distill_stopped_on_time"] is True and short["distill_s"] >= short["distill_budget_s"]


def test_a_finished_teacher_copied_without_done_trains_on_to_a_larger_budget(tmp_path):
    """``franka_distill_probe.py --teacher-minutes``: a copy of a grid's finished teacher resumes the same run."""
    import importlib.util
    from pathlib import Path

    from twist_agents.twist.pipeline import read_summary, train_teacher

    spec = importlib.util.spec_from_file_location(
        "distill_probe", Path(__file__).resolve().parents[1] / "benchmarks" / "franka_distill_probe.py"
    )
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    kwargs = dict(
        preset="debug",
        teacher_steps=1_000_000,
        max_episode_steps=30,
        progress=False,
        loop_overrides={"eval_every": 0, "prefill": 30},
    )
    grid, more = tmp_path / "grid", tmp_path / "more"
    train_teacher(ENV, grid, budget_s=1.5, **kwargs)
    first = read_summary(grid)
    episodes = sorted(p.name for p in (grid / "teacher" / "episodes").glob("*.npz"))
    assert (grid / "teacher" / "DONE").exists() and first["teacher_budget_exhausted"] is True
    # A finished teacher is not trained again, whatever the budget.
    assert train_teacher(ENV, grid, budget_s=3.0, **kwargs) == grid / "teacher" and read_summary(grid) == first

    probe.copy_teacher(grid / "teacher", more / "teacher")
    assert not (more / "teacher" / "DONE").exists() and not (more / "teacher.partial").exists()
    linked = more / "teacher" / "episodes" / episodes[0]
    assert linked.stat().st_ino == (grid / "teacher" / "episodes" / episodes[0]).stat().st_ino
    train_teacher(ENV, more, budget_s=3.0, **kwargs)
    cont = read_summary(more)
    # The copy continued the clock (1.5 s already spent) to the larger budget, with more steps and episodes.
    assert cont["teacher_budget_exhausted"] is True and 3.0 <= cont["teacher_s"] < 6.0
    assert cont["teacher_env_steps"] > first["teacher_env_steps"] and (more / "teacher" / "DONE").exists()
    assert set(episodes) < {p.name for p in (more / "teacher" / "episodes").glob("*.npz")}
    # The original is untouched.
    assert sorted(p.name for p in (grid / "teacher" / "episodes").glob("*.npz")) == episodes
    assert read_summary(grid) == first


# ------------------------------------------------------------------------------------------------ the CLI
def _parse(*argv: str):
    from twist_agents.runner.cli import build_parser

    return build_parser().parse_args(list(argv))


TRAIN = ["train", "--agent", "oracle", "--env", ENV]
COMPARE = ["compare", "--agents", "oracle", "--envs", ENV]


def test_budget_minutes_is_an_option_of_train_and_compare():
    from twist_agents.runner.cli import RUN_OPTIONS
    from twist_agents.twist.pipeline import TEACHER_SHARE

    assert _parse(*TRAIN, "--budget-minutes", "15").budget_minutes == 15.0
    assert _parse(*COMPARE, "--budget-minutes", "0.5").budget_minutes == 0.5
    assert _parse(*TRAIN).budget_minutes is None and _parse(*COMPARE).budget_minutes is None
    assert "budget_minutes" in RUN_OPTIONS
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(out.getvalue().split())
    assert "--budget-minutes M" in text and "the budget decides" in text
    assert TEACHER_SHARE == pytest.approx(2 / 3) and "2/3 to the teacher" in text  # the help states the split


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "-inf"])
@pytest.mark.parametrize("command", ["train", "compare"])
def test_budget_minutes_must_be_a_positive_finite_number(command, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*(TRAIN if command == "train" else COMPARE), f"--budget-minutes={value}"])
    assert exit_.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--budget-minutes" in err[0] and value in err[0], err
    assert "must be a finite number > 0" in err[0] or "expected a number" in err[0], err


def test_budget_minutes_is_checked_in_python_too(tmp_path):
    from twist_agents.errors import UserError
    from twist_agents.runner.compare import compare
    from twist_agents.runner.request import TrainRequest
    from twist_agents.runner.runs import train_run

    for bad in (0, -2.0, float("nan"), float("inf")):
        with pytest.raises(UserError, match="budget_minutes must be a finite number of minutes > 0"):
            train_run(TrainRequest("oracle", ENV, tmp_path / "r", preset="debug", budget_minutes=bad))
        with pytest.raises(UserError, match="budget_minutes"):
            compare(["oracle"], [ENV], 1, tmp_path / "c", preset="debug", budget_minutes=bad)
    assert not (tmp_path / "r").exists() and not (tmp_path / "c").exists()


def test_compare_passes_the_budget_to_every_cell(tmp_path, monkeypatch):
    import twist_agents.runner.compare as compare_module
    from twist_agents.runner.request import BUDGET_STEP_CAP

    seen = []

    def fake_run_grid(cells, **kwargs):
        seen.extend(cells)
        return []

    def fake_results(runs, results, **kwargs):
        results.mkdir(parents=True, exist_ok=True)
        (results / "table.md").write_text("table\n")
        return {"table_md": results / "table.md"}

    monkeypatch.setattr(compare_module, "run_grid", fake_run_grid)
    monkeypatch.setattr(compare_module, "write_results", fake_results)
    argv = ["compare", "--agents", "oracle,twist,asym-sac", "--envs", ENV, "--seeds", "2", "--preset", "debug"]
    assert main([*argv, "--budget-minutes", "0.25", "--out", str(tmp_path)]) == 0
    assert len(seen) == 6 and all(c.request.budget_minutes == 0.25 for c in seen)
    assert all(c.request.budget_s == 15.0 and c.request.steps is None for c in seen)
    # Resolved per run: no --steps, so the step cap (and twist's distillation updates) cannot end training first.
    from twist_agents.runner.agents import resolve

    for c in seen:
        r = resolve(c.request)
        assert r.steps == BUDGET_STEP_CAP
        assert r.distill_updates == (BUDGET_STEP_CAP if c.request.agent == "twist" else None)
    assert resolve(dataclasses.replace(seen[0].request, steps=123)).steps == 123  # an explicit cap stays


# ------------------------------------------------------------------------------------------------ end to end
def test_cli_train_with_a_budget_stops_on_time_and_records_its_clock_in_run_json(tmp_path):
    from twist_agents.runner.request import BUDGET_STEP_CAP

    run = tmp_path / "run"
    argv = [*TRAIN, "--preset", "debug", "--max-episode-steps", "30", "--run-dir", str(run), "--no-progress"]
    assert main([*argv, "--budget-minutes", "0.05"]) == 0  # 3 s
    cfg = json.loads((run / "run.json").read_text())
    assert cfg["budget_minutes"] == 0.05 and cfg["steps"] == BUDGET_STEP_CAP
    assert cfg["budget_exhausted"] is True and 3.0 <= cfg["train_s"] < 8.0
    assert cfg["training"]["env_steps"] > 0 and cfg["training"]["eval_s"] == 0.0
    eps = list(EpisodeStore(run / "episodes"))
    for e in eps:  # the last one is cut by the budget, unless the budget ran out on an episode's last step
        assert e["is_last"][-1] and not e["is_last"][:-1].any() and not e["is_terminal"].any()
    assert all(len(e["reward"]) - 1 == 30 for e in eps[:-1]) and 1 <= len(eps[-1]["reward"]) - 1 <= 30


def test_compare_with_a_budget_records_clock_and_workers_of_every_run(tmp_path):
    out = tmp_path / "c"
    argv = ["compare", "--agents", "oracle,asym-sac", "--envs", ENV, "--seeds", "1", "--preset", "debug"]
    argv += ["--max-episode-steps", "20", "--eval-episodes", "1", "--bootstrap-reps", "50", "--out", str(out)]
    assert main([*argv, "--budget-minutes", "0.04"]) == 0  # 2.4 s each
    for agent in ("oracle", "asym-sac"):
        cfg = json.loads(next(out.glob(f"runs/{agent}/*/seed0/run.json")).read_text())
        assert cfg["budget_minutes"] == 0.04 and cfg["budget_exhausted"] is True, agent
        assert 2.4 <= cfg["train_s"] < 8.0, (agent, cfg["train_s"])
        assert (cfg["backend"], cfg["workers"], cfg["torch_threads"]) == ("local", 2, 1)
