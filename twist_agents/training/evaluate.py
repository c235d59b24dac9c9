"""Evaluate any :class:`~twist_agents.protocol.Agent`: greedy episodes, per-episode CSV and videos.

One episode loop (:func:`evaluate`) for every caller; they differ only in the reset seeds. The runner's
evaluation resets episode ``i`` with ``seed + i``; the training loop's periodic evaluation
(:func:`episode_returns`) draws reset seeds from the evaluation stream of
:func:`~twist_agents.training.episodes.episode_seed`, disjoint from the training episodes'.

The agent only ever receives the observation keys it is allowed to read (``input_keys``): pixel
agents are evaluated on an env built with ``obs_mode="pixels"`` (no ``"state"`` exists at all), the
Oracle on ``"state"`` taken from a paired env (whose pixels feed only the video).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from twist_agents.data.atomic import atomic_write_text
from twist_agents.protocol import Agent
from twist_agents.training.envs import make_env
from twist_agents.training.episodes import as_obs_dict, episode_seed

RETURNS_FILE = "returns.csv"
"""Per-episode results inside ``<run>/eval/<split>/``."""


@dataclass(frozen=True)
class EvalResult:
    """Outcome of :func:`evaluate`."""

    returns: tuple[float, ...]
    """Undiscounted return of every episode."""
    lengths: tuple[int, ...]
    """Env steps of every episode."""
    successes: tuple[float, ...]
    """``info["success"]`` at the last step of every episode (NaN where the env has none)."""
    csv_path: Path | None
    """The per-episode CSV written (``None`` when no ``out_dir`` was given)."""
    videos: tuple[Path, ...]
    """Video files written."""

    @property
    def mean_return(self) -> float:
        """Mean episodic return."""
        return float(np.mean(self.returns))

    @property
    def success_rate(self) -> float:
        """Fraction of successful episodes (NaN when the env reports no success)."""
        s = [x for x in self.successes if not math.isnan(x)]
        return float(np.mean(s)) if s else float("nan")


def make_eval_env(
    env_id: str,
    input_keys: Sequence[str],
    split: str = "test",
    max_episode_steps: int | None = None,
    **env_kwargs: Any,
) -> gym.Env:
    """Build the evaluation env: ``obs_mode="pixels"`` for pixel-only agents, else ``"paired"``."""
    obs_mode = "pixels" if tuple(input_keys) == ("pixels",) else "paired"
    kwargs: dict[str, Any] = {"obs_mode": obs_mode, "randomization": split, **env_kwargs}
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    return make_env(env_id, **kwargs)


def _frame(obs: Any, env: gym.Env, scale: int) -> np.ndarray | None:
    pixels = obs.get("pixels") if isinstance(obs, dict) else None
    if pixels is None:
        return None
    frame = np.asarray(pixels, dtype=np.uint8)  # (H, W, 3)
    return frame.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else frame


def write_video(frames: Sequence[np.ndarray], path: Path, fps: int = 25) -> Path:
    """Write frames as MP4 (imageio-ffmpeg); falls back to GIF if ffmpeg is unavailable."""
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".mp4":
        try:
            imageio.mimsave(path, list(frames), fps=fps, macro_block_size=1)
            return path
        except Exception:  # no ffmpeg backend: still give the user something to watch
            path = path.with_suffix(".gif")
    imageio.mimsave(path, list(frames), duration=1.0 / fps, loop=0)
    return path


def evaluate(
    agent: Agent,
    env: gym.Env,
    input_keys: Sequence[str] | None,
    episodes: int = 10,
    seed: int = 0,
    out_dir: str | Path | None = None,
    video_episodes: int = 1,
    video_format: str = "mp4",
    labels: dict[str, Any] | None = None,
    progress: bool = True,
    reset_seeds: Sequence[int] | None = None,
) -> EvalResult:
    """Run ``episodes`` greedy episodes of ``agent`` on ``env`` and record what happened.

    Args:
        agent: Any Agent; called with ``explore=False`` and only the ``input_keys`` of each observation.
        env: The evaluation env (see :func:`make_eval_env`).
        input_keys: Observation keys the agent may read (``("state",)`` for the Oracle); ``None``: all of
            them (a plain array observation is passed as ``{"state": obs}``).
        episodes: Number of episodes.
        seed: Episode ``i`` resets with ``seed + i`` (reproducible scenes) unless ``reset_seeds`` is given.
        out_dir: Where to write ``returns.csv`` and videos; nothing is written when ``None``.
        video_episodes: How many of the first episodes to film (frames are the env's pixels).
        video_format: ``"mp4"`` or ``"gif"``.
        labels: Extra constant columns of the CSV (e.g. ``agent``, ``env_id``, ``seed``, ``split``).
        progress: Show a progress bar over episodes.
        reset_seeds: The reset seed of every episode (overrides ``seed`` and ``episodes``).

    Returns:
        The per-episode :class:`EvalResult`.
    """
    returns, lengths, successes, videos = [], [], [], []
    out = Path(out_dir) if out_dir is not None else None
    seeds = list(reset_seeds) if reset_seeds is not None else [seed + ep for ep in range(episodes)]
    for ep in tqdm(range(len(seeds)), desc="eval", unit="ep", disable=not progress, leave=False):
        obs, info = env.reset(seed=seeds[ep])
        film = out is not None and ep < video_episodes
        frames = [f for f in [_frame(obs, env, 4)] if f is not None] if film else []
        state, total, steps, done = None, 0.0, 0, False
        while not done:
            seen = as_obs_dict(obs)
            action, state = agent.act(seen if input_keys is None else {k: seen[k] for k in input_keys}, state, False)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            steps += 1
            done = terminated or truncated
            if film and (f := _frame(obs, env, 4)) is not None:
                frames.append(f)
        returns.append(total)
        lengths.append(steps)
        successes.append(float(info["success"]) if "success" in info else float("nan"))
        if film and frames and out is not None:
            videos.append(write_video(frames, out / f"episode_{ep:03d}.{video_format}"))
    csv_path = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        csv_path = out / RETURNS_FILE
        labels = labels or {}
        text = io.StringIO(newline="")
        w = csv.writer(text)
        w.writerow([*labels, "episode", "return", "length", "success"])
        for i, (r, n, s) in enumerate(zip(returns, lengths, successes, strict=True)):
            w.writerow([*labels.values(), i, r, n, "" if math.isnan(s) else s])
        atomic_write_text(csv_path, text.getvalue())
    return EvalResult(tuple(returns), tuple(lengths), tuple(successes), csv_path, tuple(videos))


def episode_returns(agent: Agent, env: gym.Env, episodes: int, seed: int, start_index: int = 0) -> list[float]:
    """Undiscounted returns of ``episodes`` greedy episodes (``explore=False``), nothing written.

    Episode ``i`` resets with ``episode_seed(seed, start_index + i, eval_=True)``: the training loop's
    evaluations continue one stream across a run (``start_index`` counts the episodes evaluated before).
    """
    seeds = [episode_seed(seed, start_index + i, eval_=True) for i in range(episodes)]
    return list(evaluate(agent, env, None, reset_seeds=seeds, progress=False).returns)
