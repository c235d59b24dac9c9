"""Episode rows and reset seeds shared by every loop that writes the episode store.

A stored episode is a dict of equally long lists, one row per time step ``t`` (see
:mod:`twist_agents.data.store`): the observation ``o_t`` and the transition that led to it. Row 0 holds the
reset observation with a zero action, ``reward = 0`` and ``is_first = True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np


def as_obs_dict(obs: Any) -> dict[str, np.ndarray]:
    """Envs with a ``Dict`` observation pass through; a plain array becomes ``{"state": obs}``.

    Example:
        >>> sorted(as_obs_dict({"state": [0.5], "pixels": np.zeros((2, 2, 3), np.uint8)}))
        ['pixels', 'state']
        >>> as_obs_dict([1, 2])["state"].dtype
        dtype('float32')
    """
    if isinstance(obs, Mapping):
        return {k: np.asarray(v) for k, v in obs.items()}
    return {"state": np.asarray(obs, np.float32)}


def obs_space_of(env: gym.Env) -> gym.spaces.Dict:
    """The env's observation space as a ``Dict`` (see :func:`as_obs_dict`)."""
    space = env.observation_space
    return space if isinstance(space, gym.spaces.Dict) else gym.spaces.Dict({"state": space})


def episode_seed(seed: int, index: int, eval_: bool = False) -> int:
    """The reset seed of episode ``index`` of a run seeded with ``seed``.

    Distinct and reproducible per episode, so a resumed run resets its envs as an uninterrupted one would;
    evaluation episodes (``eval_=True``) draw from a disjoint stream.
    """
    return int(np.random.SeedSequence([seed, index, int(eval_)]).generate_state(1)[0])


def append_row(
    episode: dict[str, list[Any]],
    obs: Mapping[str, np.ndarray],
    action: np.ndarray,
    reward: float,
    first: bool,
    last: bool,
    terminal: bool,
) -> None:
    """Append row ``t`` (see :mod:`twist_agents.data.store`): ``o_t`` and the transition that led to it."""
    for k, v in obs.items():
        episode[k].append(v)
    episode["action"].append(action)
    episode["reward"].append(np.float32(reward))
    episode["is_first"].append(first)
    episode["is_last"].append(last)
    episode["is_terminal"].append(terminal)
