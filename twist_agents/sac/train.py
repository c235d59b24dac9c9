"""Train asymmetric SAC on a TWIST env with SB3's own loop; run-directory outputs and resume.

Run directory (the runner's layout): ``metrics.csv`` + ``tb/`` (training-episode returns
``train/return`` and SB3's losses), ``checkpoints/latest.zip`` (networks, optimisers, step counter)
and ``checkpoints/previous.zip`` (the checkpoint before it), ``checkpoints/replay.pkl`` (SB3's replay
buffer, so a killed run resumes with its memory), ``checkpoints/clock.json`` (the training wall clock up to the
resume checkpoint), ``checkpoints/final.zip`` when the budget is spent.

Wall-clock budget (``budget_s``): the time inside SB3's ``learn`` (env steps, gradient updates, checkpoints;
this trainer runs no evaluation) accumulates across resumes in ``clock.json``, written atomically after each
resume checkpoint. After every env step the callback compares it with the budget and, once it is reached,
stops ``learn``; the resume checkpoint and ``final.zip`` are written as after a step budget. The recorded clock
includes writing that last resume checkpoint, after the stop: its replay buffer is large (about 0.5 GB at the
``cpu`` preset, a few seconds to write), so ``train_s`` ends that much above the budget. A resumed run whose
budget is spent trains no further. A killed run loses the time since its last checkpoint.

A resume that finds ``latest.zip`` damaged reports it, moves it to ``checkpoints/corrupt/`` and uses
``previous.zip``; a damaged replay buffer is moved aside the same way and the run goes on with an empty
one. Nothing is deleted.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.callbacks import BaseCallback
from tqdm.auto import tqdm

from twist_agents.data import atomic_write_text, move_aside
from twist_agents.errors import RunFileError, describe
from twist_agents.sac.agent import AsymmetricSACAgent, AsymmetricSACConfig, sac_preset
from twist_agents.training.metrics import MetricsLogger

LATEST = "checkpoints/latest.zip"
"""Resume checkpoint (relative to the run dir)."""
REPLAY = "checkpoints/replay.pkl"
"""Replay buffer checkpoint (relative to the run dir)."""
FINAL = "checkpoints/final.zip"
"""Checkpoint of the finished run (relative to the run dir)."""
PREVIOUS = "checkpoints/previous.zip"
"""The resume checkpoint before ``LATEST``: the fallback when ``LATEST`` is damaged (relative to the run dir)."""
CORRUPT = "checkpoints/corrupt"
"""Where run files that fail to load are moved (relative to the run dir)."""
CLOCK = "checkpoints/clock.json"
"""Training wall clock up to the resume checkpoint, across resumes (relative to the run dir):
``{"train_s", "num_timesteps", "budget_s", "budget_exhausted"}``."""

log = logging.getLogger(__name__)


class _RunCallback(BaseCallback):
    """Progress bar, metrics (episode returns, losses) and periodic checkpoints during ``learn``."""

    def __init__(
        self,
        agent: AsymmetricSACAgent,
        run_dir: Path,
        total: int,
        checkpoint_every: int,
        log_every: int,
        progress: bool,
        prior_s: float = 0.0,
        budget_s: float = 0.0,
    ) -> None:
        super().__init__()
        self.agent, self.run_dir, self.total = agent, run_dir, total
        self.checkpoint_every, self.log_every = checkpoint_every, log_every
        self.prior_s, self.budget_s = prior_s, budget_s
        self.start = time.perf_counter()
        self.budget_exhausted = False
        self.log = MetricsLogger(run_dir)
        self.bar = tqdm(
            total=None if budget_s else total,  # with a budget the step count rarely ends the run
            initial=agent.model.num_timesteps,
            desc="asym-sac",
            unit="step",
            disable=not progress,
            leave=False,
        )

    def _on_training_start(self) -> None:
        self.start = time.perf_counter()

    def train_s(self) -> float:
        """Training wall clock of the run so far: earlier calls' (``prior_s``) plus this ``learn``'s."""
        return self.prior_s + time.perf_counter() - self.start

    def _on_step(self) -> bool:
        step = self.model.num_timesteps
        self.bar.update(1)
        for info in self.locals.get("infos", []):
            if "episode" in info:  # SB3's Monitor marks episode ends
                self.log.log(step, {"train/return": info["episode"]["r"], "train/length": info["episode"]["l"]})
        if step % self.log_every == 0:
            losses = {
                k: float(v)
                for k, v in self.model.logger.name_to_value.items()
                if k.startswith("train/") and k != "train/n_updates"
            }
            if losses:
                self.log.log(step, losses)
        if self.checkpoint_every and step % self.checkpoint_every == 0:
            save_checkpoint(self.agent, self.run_dir)
            write_clock(self.run_dir, self.train_s(), step, self.budget_s, False)
        if self.budget_s and self.train_s() >= self.budget_s:
            self.budget_exhausted = True
            return False  # SB3 ends `learn` after this step
        return True

    def _on_training_end(self) -> None:
        self.bar.close()
        self.log.close()


def save_checkpoint(agent: AsymmetricSACAgent, run_dir: Path) -> None:
    """Write the resume checkpoint (model zip, then replay buffer, each atomically); the last one is kept.

    The checkpoint it replaces becomes ``previous.zip``: the fallback if the new one turns out damaged.
    """
    if (run_dir / LATEST).exists():
        os.replace(run_dir / LATEST, run_dir / PREVIOUS)
    agent.save(run_dir / LATEST)
    agent.save_replay_buffer(run_dir / REPLAY)


def write_clock(run_dir: Path, train_s: float, num_timesteps: int, budget_s: float, budget_exhausted: bool) -> None:
    """Write :data:`CLOCK` atomically (after the resume checkpoint it belongs to)."""
    clock = {
        "train_s": train_s,
        "num_timesteps": int(num_timesteps),
        "budget_s": budget_s,
        "budget_exhausted": budget_exhausted,
    }
    atomic_write_text(run_dir / CLOCK, json.dumps(clock, indent=2))


def read_clock(run_dir: str | Path) -> dict[str, Any]:
    """The run's :data:`CLOCK` (``{}`` if it has none, or one that does not load: the clock then starts at 0)."""
    path = Path(run_dir) / CLOCK
    try:
        return dict(json.loads(path.read_text())) if path.exists() else {}
    except (OSError, ValueError, TypeError) as e:
        log.warning("%s does not load (%s); the training clock restarts at 0", path, describe(e))
        return {}


def resume_agent(run_dir: Path, config: AsymmetricSACConfig, env: gym.Env) -> AsymmetricSACAgent | None:
    """The agent of the newest resume checkpoint that loads, with its replay buffer; ``None`` if there is none.

    ``latest.zip`` is tried first, then ``previous.zip``. A file that fails to load is named in a warning
    and moved to ``checkpoints/corrupt/``; a damaged replay buffer leaves the agent with an empty one.

    Raises:
        RunFileError: checkpoints exist but none of them loads.
    """
    failures = []
    for rel in (LATEST, PREVIOUS):
        path = run_dir / rel
        if not path.exists():
            continue
        try:
            agent = AsymmetricSACAgent.from_file(path, config, env=env)
        except Exception as e:  # noqa: BLE001  (any damage: torn zip, bad pickle, missing entries)
            failures.append(f"{path.name}: {describe(e)}")
            log.warning(
                "checkpoint %s does not load (%s); moved it to %s",
                path,
                describe(e),
                move_aside(path, run_dir / CORRUPT),
            )
            continue
        replay = run_dir / REPLAY
        if replay.exists():
            try:
                agent.model.load_replay_buffer(replay)
            except Exception as e:  # noqa: BLE001
                moved = move_aside(replay, run_dir / CORRUPT)
                log.warning(
                    "replay buffer %s does not load (%s); moved it to %s, going on with an empty one",
                    replay,
                    describe(e),
                    moved,
                )
        return agent
    if failures:
        raise RunFileError(
            f"no checkpoint of {run_dir} loads ({'; '.join(failures)}); they were moved to {run_dir / CORRUPT}: "
            "run the same command again to start the agent afresh, or use a new run directory"
        )
    return None


def train_asym_sac(
    env_id: str,
    run_dir: str | Path,
    preset: str = "cpu",
    seed: int = 0,
    steps: int = 100_000,
    resume: bool = True,
    max_episode_steps: int | None = None,
    config: AsymmetricSACConfig | None = None,
    checkpoint_every: int = 10_000,
    progress: bool = True,
    env_kwargs: dict[str, Any] | None = None,
    budget_s: float = 0.0,
) -> AsymmetricSACAgent:
    """Train asymmetric SAC for ``steps`` env steps, or ``budget_s`` seconds, on ``env_id`` (paired obs, train DR).

    Args:
        env_id: Gymnasium id with paired observations (``obs_mode="paired"``).
        run_dir: Run directory (created).
        preset: ``debug`` / ``cpu`` / ``paper`` (see :data:`twist_agents.sac.SAC_PRESETS`).
        seed: Seed of env and agent.
        steps: Total env-step budget (a resumed run trains only the remainder).
        resume: Continue from ``checkpoints/latest.zip`` (``previous.zip`` if it is damaged) and the replay
            buffer when they exist (:func:`resume_agent`).
        max_episode_steps: Shorter episodes (tests); ``None`` keeps the env's default.
        config: Overrides the preset.
        checkpoint_every: Env steps between resume checkpoints (0 disables; the end always saves).
        progress: Show a progress bar.
        env_kwargs: Extra ``gym.make`` keywords (e.g. ``randomization="none"``).
        budget_s: Training wall-clock budget in seconds, accumulated across resumes (see the module docstring);
            0 = none. How much was used and whether it ended training: :func:`read_clock`.

    Returns:
        The trained agent (also saved to ``checkpoints/final.zip``).
    """
    if not budget_s >= 0 or budget_s == float("inf"):
        raise ValueError(f"train_asym_sac: budget_s must be a finite number >= 0 (0 = no budget), got {budget_s}")
    import twist_envs  # noqa: F401  (registers the TWIST ids)

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = config or sac_preset(preset)
    kwargs: dict[str, Any] = {"obs_mode": "paired", "randomization": "train", **(env_kwargs or {})}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    env = gym.make(env_id, **kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    agent = resume_agent(run_dir, cfg, env) if resume else None
    if agent is None:
        agent = AsymmetricSACAgent(env, cfg, seed=seed)
    remaining = steps - agent.model.num_timesteps
    prior_s = float(read_clock(run_dir).get("train_s", 0.0)) if resume else 0.0
    spent = bool(budget_s) and prior_s >= budget_s  # a resumed run whose budget is spent trains no further
    if remaining > 0 and not spent:
        callback = _RunCallback(
            agent,
            run_dir,
            steps,
            checkpoint_every,
            log_every=max(1, min(1000, steps // 20)),
            progress=progress,
            prior_s=prior_s,
            budget_s=budget_s,
        )
        agent.model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=False)
        save_checkpoint(agent, run_dir)
        write_clock(run_dir, callback.train_s(), agent.model.num_timesteps, budget_s, callback.budget_exhausted)
    elif spent:
        write_clock(run_dir, prior_s, agent.model.num_timesteps, budget_s, True)
    agent.save(run_dir / FINAL)
    env.close()
    return agent


def load_asym_sac(run_dir: str | Path, preset: str = "cpu") -> AsymmetricSACAgent:
    """Load the trained agent of a run for deployment (needs only ``"pixels"``).

    Tries ``final.zip``, ``latest.zip``, ``previous.zip`` in turn; a damaged one is reported and skipped.

    Raises:
        RunFileError: checkpoints exist but none loads.
        FileNotFoundError: the run has no checkpoint.
    """
    run_dir = Path(run_dir)
    failures = []
    for path in (run_dir / FINAL, run_dir / LATEST, run_dir / PREVIOUS):
        if not path.exists():
            continue
        try:
            return AsymmetricSACAgent.from_file(path, sac_preset(preset))
        except Exception as e:  # noqa: BLE001  (a damaged file: report it and try the older one)
            failures.append(f"{path.name}: {describe(e)}")
            log.warning("checkpoint %s does not load (%s); trying the previous one", path, describe(e))
    if failures:
        raise RunFileError(f"no checkpoint of {run_dir} loads ({'; '.join(failures)}); train the run again")
    raise FileNotFoundError(f"{run_dir} has no SAC checkpoint ({FINAL}, {LATEST}); train it with `twist train`")
