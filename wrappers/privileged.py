"""Paired observations: the privileged simulator state and a rendered image of the same moment.

Example:
    >>> import gymnasium as gym
    >>> from wrappers import PrivilegedObservation
    >>> env = PrivilegedObservation(gym.make("HalfCheetah-v5", render_mode="rgb_array", width=64, height=64))
    >>> obs, _ = env.reset(seed=0)
    >>> obs["state"].dtype.name, obs["state"].shape, obs["pixels"].shape
    ('float32', (17,), (64, 64, 3))
    >>> env.close()
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

OBS_MODES: tuple[str, ...] = ("paired", "state", "pixels")


def check_obs_mode(obs_mode: str, who: str) -> None:
    """Raise a ``ValueError`` naming ``obs_mode`` unless it is one of :data:`OBS_MODES`."""
    if obs_mode not in OBS_MODES:
        raise ValueError(f"{who}: obs_mode must be one of {OBS_MODES}, got {obs_mode!r}")


class PrivilegedObservation(gym.ObservationWrapper):
    """Turn any env with a flat ``Box`` observation and ``render_mode="rgb_array"`` into ``{"state", "pixels"}``.

    Like Gymnasium's ``AddRenderObservation`` with the same keys, but the state is flattened to float32 (what
    the agents consume) and ``obs_mode`` can drop either key.

    Args:
        env: the environment; must render ``rgb_array`` frames for ``obs_mode`` other than ``"state"``.
        obs_mode: ``"paired"`` (both keys), ``"state"`` or ``"pixels"``.
    """

    def __init__(self, env: gym.Env, obs_mode: str = "paired") -> None:
        super().__init__(env)
        check_obs_mode(obs_mode, "PrivilegedObservation")
        if obs_mode != "state" and env.render_mode != "rgb_array":
            raise ValueError(
                f"PrivilegedObservation: the env must be made with render_mode='rgb_array' for obs_mode={obs_mode!r}"
                f" (got render_mode={env.render_mode!r})"
            )
        self.obs_mode = obs_mode
        parts: dict[str, spaces.Space] = {}
        if obs_mode in ("paired", "state"):
            n = int(spaces.flatdim(env.observation_space))
            parts["state"] = spaces.Box(-np.inf, np.inf, (n,), np.float32)
        if obs_mode in ("paired", "pixels"):
            base = env.unwrapped
            if hasattr(base, "width") and hasattr(base, "height"):  # Gymnasium's MuJoCo envs know their frame size
                shape = (int(base.height), int(base.width), 3)
            else:  # otherwise the only way to know is to look at a frame
                env.reset()
                shape = np.asarray(env.render()).shape
            parts["pixels"] = spaces.Box(0, 255, shape, np.uint8)
        self.observation_space = spaces.Dict(parts)

    def observation(self, observation: Any) -> dict[str, np.ndarray]:
        """Pair the (flattened) observation with the current frame."""
        out: dict[str, np.ndarray] = {}
        if "state" in self.observation_space.spaces:
            out["state"] = np.asarray(spaces.flatten(self.env.observation_space, observation), dtype=np.float32)
        if "pixels" in self.observation_space.spaces:
            out["pixels"] = np.ascontiguousarray(self.env.render(), dtype=np.uint8)
        return out
