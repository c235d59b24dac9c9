"""Training a Dreamer variant end to end: the variant table and :func:`train_dreamer`.

The Dreamer baselines are configurations, not subclasses: a variant names the observation keys its world
model encodes and decodes, and the env keywords it trains with. :func:`train_dreamer` builds the agent from
a preset (:func:`~twist_agents.dreamer.config.dreamer_config`) and runs the generic episode-store loop
(:func:`twist_agents.training.loop.train`) with the loop settings of the same preset.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twist_agents.dreamer.agent import DreamerAgent
from twist_agents.dreamer.config import config_from_dict, dreamer_config
from twist_agents.errors import describe
from twist_agents.training.envs import make_env
from twist_agents.training.episodes import obs_space_of
from twist_agents.training.loop import LOOP_PRESETS, train

DREAMER_VARIANTS: dict[str, dict[str, Any]] = {
    "oracle": {"encode": ("state",), "decode": ("state",), "env_kwargs": {}},
    "dreamer-dr": {"encode": ("pixels",), "decode": ("pixels",), "env_kwargs": {"randomization": "train"}},
    "dreamer-nodr": {"encode": ("pixels",), "decode": ("pixels",), "env_kwargs": {"randomization": "none"}},
    "state-recon": {"encode": ("pixels",), "decode": ("state",), "env_kwargs": {"randomization": "train"}},
}
"""The Dreamer variants: encode / decode keys and the env keywords they imply (the Oracle trains on the env's
default randomisation, ``"train"`` for the sim envs). The runner's registry reads this table."""

log = logging.getLogger(__name__)


def train_dreamer(
    env_id: str,
    agent: str = "oracle",
    preset: str = "cpu",
    seed: int = 0,
    steps: int | None = None,
    run_dir: str | Path = "runs/dreamer",
    resume: bool = False,
    env_kwargs: Mapping[str, Any] | None = None,
    eval_env_kwargs: Mapping[str, Any] | None = None,
    loop_overrides: Mapping[str, Any] | None = None,
    device: str = "cpu",
    agent_overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Train a Dreamer variant (Oracle, Dreamer +-DR, State Recon) end to end.

    Args:
        env_id: e.g. ``"TWIST/CartpoleBalance-Distracting-v0"``.
        agent: one of :data:`DREAMER_VARIANTS` (``oracle``, ``dreamer-dr``, ``dreamer-nodr``, ``state-recon``).
        preset: ``debug`` / ``cpu`` / ``paper`` (agent sizes and loop settings).
        seed: seed of everything.
        steps: env steps (default: the preset's).
        run_dir: run directory.
        resume: continue a killed run (its ``config.json`` agent config is reused).
        env_kwargs: extra ``gym.make`` kwargs (e.g. ``{"obs_mode": "state", "max_episode_steps": 100}``).
            The default ``obs_mode`` is the env's (``"paired"``), so the Oracle's run also stores
            the pixels that TWIST distils from.
        eval_env_kwargs: kwargs of the evaluation env (default: ``env_kwargs``).
        loop_overrides: :class:`~twist_agents.training.loop.LoopConfig` fields to replace
            (e.g. ``{"checkpoint_every": 200}``).
        device: torch device.
        agent_overrides: fields of the preset's agent config to replace, by sub-config:
            ``{"behavior": {"imag_starts": 0}, "world_model": {"lr": 3e-4}}`` (for experiments).

    Returns:
        :func:`~twist_agents.training.loop.train`'s summary.
    """
    if agent not in DREAMER_VARIANTS:
        raise ValueError(f"train_dreamer: unknown agent {agent!r}; choose one of {sorted(DREAMER_VARIANTS)}")
    if preset not in LOOP_PRESETS:
        raise ValueError(f"train_dreamer: unknown preset {preset!r}; choose one of {sorted(LOOP_PRESETS)}")
    variant = DREAMER_VARIANTS[agent]
    kwargs = {**variant["env_kwargs"], **(env_kwargs or {})}
    if not env_id.startswith("TWIST/"):
        kwargs = dict(env_kwargs or {})  # foreign envs may not know our kwargs (randomization, ...)
    loop_cfg = dataclasses.replace(LOOP_PRESETS[preset], seed=seed, **(loop_overrides or {}))
    if steps is not None:
        loop_cfg = dataclasses.replace(loop_cfg, steps=steps)
    cfg = dreamer_config(preset, encode=variant["encode"], decode=variant["decode"], device=device)
    for part, fields in (agent_overrides or {}).items():
        cfg = dataclasses.replace(cfg, **{part: dataclasses.replace(getattr(cfg, part), **fields)})
    config_file = Path(run_dir) / "config.json"
    if resume and config_file.exists():
        try:
            cfg = dataclasses.replace(config_from_dict(json.loads(config_file.read_text())["agent"]), device=device)
        except (ValueError, KeyError, TypeError) as e:  # torn JSON: the preset gives the same agent config
            log.warning("%s does not load (%s); using the %r preset's agent config", config_file, describe(e), preset)

    env = make_env(env_id, seed, **kwargs)
    eval_env = make_env(env_id, seed, **(dict(eval_env_kwargs) if eval_env_kwargs is not None else kwargs))
    try:
        dreamer = DreamerAgent(cfg, obs_space_of(env), env.action_space, seed=seed)  # type: ignore[arg-type]
        info = {
            "agent": dataclasses.asdict(cfg),
            "variant": agent,
            "env_id": env_id,
            "env_kwargs": kwargs,
            "preset": preset,
            "seed": seed,
        }
        return train(dreamer, env, run_dir, loop_cfg, eval_env=eval_env, resume=resume, run_info=info)
    finally:
        env.close()
        eval_env.close()
