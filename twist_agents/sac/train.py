"""Train asymmetric SAC on a TWIST env with SB3's own loop; run-directory outputs and resume.

Run directory (the runner's layout): ``metrics.csv`` + ``tb/`` (training-episode returns
``train/return`` and SB3's losses), ``checkpoints/latest.zip`` (networks, optimisers, step counter)
and ``checkpoints/replay.pkl`` (SB3's replay buffer, so a killed run resumes with its memory),
``checkpoints/final.zip`` when the budget is spent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.callbacks import BaseCallback
from tqdm.auto import tqdm

from twist_agents.runner.metrics import MetricsLogger
from twist_agents.sac.agent import AsymmetricSACAgent, AsymmetricSACConfig, sac_preset

LATEST = "checkpoints/latest.zip"
"""Resume checkpoint (relative to the run dir)."""
REPLAY = "checkpoints/replay.pkl"
"""Replay buffer checkpoint (relative to the run dir)."""
FINAL = "checkpoints/final.zip"
"""Checkpoint of the finished run (relative to the run dir)."""


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
    ) -> None:
        super().__init__()
        self.agent, self.run_dir, self.total = agent, run_dir, total
        self.checkpoint_every, self.log_every = checkpoint_every, log_every
        self.log = MetricsLogger(run_dir)
        self.bar = tqdm(
            total=total,
            initial=agent.model.num_timesteps,
            desc="asym-sac",
            unit="step",
            disable=not progress,
            leave=False,
        )

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
        return True

    def _on_training_end(self) -> None:
        self.bar.close()
        self.log.close()


def save_checkpoint(agent: AsymmetricSACAgent, run_dir: Path) -> None:
    """Write the resume checkpoint (model zip then replay buffer, each atomically)."""
    agent.save(run_dir / LATEST)
    agent.save_replay_buffer(run_dir / REPLAY)


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
) -> AsymmetricSACAgent:
    """Train asymmetric SAC for ``steps`` env steps on ``env_id`` (paired obs, train randomisation).

    Args:
        env_id: Gymnasium id with paired observations (``obs_mode="paired"``).
        run_dir: Run directory (created).
        preset: ``debug`` / ``cpu`` / ``paper`` (see :data:`twist_agents.sac.SAC_PRESETS`).
        seed: Seed of env and agent.
        steps: Total env-step budget (a resumed run trains only the remainder).
        resume: Continue from ``checkpoints/latest.zip`` and the replay buffer when they exist.
        max_episode_steps: Shorter episodes (tests); ``None`` keeps the env's default.
        config: Overrides the preset.
        checkpoint_every: Env steps between resume checkpoints (0 disables; the end always saves).
        progress: Show a progress bar.
        env_kwargs: Extra ``gym.make`` keywords (e.g. ``randomization="none"``).

    Returns:
        The trained agent (also saved to ``checkpoints/final.zip``).
    """
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
    if resume and (run_dir / LATEST).exists():
        agent = AsymmetricSACAgent.from_file(run_dir / LATEST, cfg, env=env)
        if (run_dir / REPLAY).exists():
            agent.model.load_replay_buffer(run_dir / REPLAY)
    else:
        agent = AsymmetricSACAgent(env, cfg, seed=seed)
    remaining = steps - agent.model.num_timesteps
    if remaining > 0:
        callback = _RunCallback(
            agent,
            run_dir,
            steps,
            checkpoint_every,
            log_every=max(1, min(1000, steps // 20)),
            progress=progress,
        )
        agent.model.learn(total_timesteps=remaining, callback=callback, reset_num_timesteps=False)
        save_checkpoint(agent, run_dir)
    agent.save(run_dir / FINAL)
    env.close()
    return agent


def load_asym_sac(run_dir: str | Path, preset: str = "cpu") -> AsymmetricSACAgent:
    """Load the trained agent of a run for deployment (needs only ``"pixels"``)."""
    run_dir = Path(run_dir)
    path = run_dir / FINAL if (run_dir / FINAL).exists() else run_dir / LATEST
    return AsymmetricSACAgent.from_file(path, sac_preset(preset))
