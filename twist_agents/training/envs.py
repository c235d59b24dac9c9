"""Building the envs a training run steps: one ``make_env`` for every trainer."""

from __future__ import annotations

from typing import Any

import gymnasium as gym


def make_env(env_id: str, seed: int | None = None, **kwargs: Any) -> gym.Env:
    """``gym.make`` after importing ``twist_envs`` (registers the ``TWIST/`` ids).

    ``env_id`` may also be ``"module:Id"`` (Gymnasium imports ``module`` first). With ``seed``, the action
    space is seeded too (random prefill actions are reproducible).
    """
    if env_id.startswith("TWIST/"):
        import twist_envs  # noqa: F401  (registers the ids)
    env = gym.make(env_id, **kwargs)
    if seed is not None:
        env.action_space.seed(seed)
    return env
