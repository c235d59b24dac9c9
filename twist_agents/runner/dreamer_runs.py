"""Runner glue for the world-model agents: Dreamer variants (:mod:`twist_agents.runner.loop`) and TWIST.

The training itself lives in :func:`twist_agents.runner.loop.train_dreamer` and
:func:`twist_agents.twist.pipeline.train_twist`; this module only maps a
:class:`~twist_agents.runner.agents.TrainRequest` onto them and loads the trained agent back.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from twist_agents.errors import UserError
from twist_agents.protocol import Agent
from twist_agents.runner.agents import TrainRequest


def _loop_overrides(req: TrainRequest) -> dict[str, Any]:
    """Loop settings the runner changes: no in-loop evaluation for ``debug`` (the runner evaluates)."""
    from twist_agents.runner.loop import LOOP_PRESETS

    if req.preset != "debug":
        return {}
    steps = int(req.steps or LOOP_PRESETS["debug"].steps)
    # Tiny budgets: random prefill for half of them at most, so that every debug run does updates.
    return {
        "eval_every": 0,
        "prefill": min(LOOP_PRESETS["debug"].prefill, steps // 2),
        "checkpoint_every": max(1, steps // 2),
        "progress": req.progress,
    }


def train_dreamer_variant(req: TrainRequest, **variant: Any) -> None:
    """Train an ``oracle`` / ``dreamer-dr`` / ``dreamer-nodr`` / ``state-recon`` run.

    ``variant`` (encode / decode keys, randomisation) documents the registry entry; the loop's
    :data:`~twist_agents.runner.loop.AGENT_VARIANTS` is the one that is applied, and the two must agree.
    """
    from twist_agents.runner.loop import AGENT_VARIANTS, train_dreamer

    expected = AGENT_VARIANTS[req.agent]
    if tuple(expected["encode"]) != tuple(variant["encode"]) or tuple(expected["decode"]) != tuple(variant["decode"]):
        raise RuntimeError(f"registry and loop disagree on the {req.agent} variant: {variant} vs {expected}")
    env_kwargs: dict[str, Any] = {"randomization": variant["randomization"]}
    if req.max_episode_steps is not None:
        env_kwargs["max_episode_steps"] = req.max_episode_steps
    train_dreamer(
        req.env_id,
        agent=req.agent,
        preset=req.preset,
        seed=req.seed,
        steps=req.steps,
        run_dir=req.run_dir,
        resume=req.resume,
        env_kwargs=env_kwargs,
        loop_overrides=_loop_overrides(req),
    )


def load_dreamer_run(run_dir: Path) -> Agent:
    """The Dreamer agent of a run's newest checkpoint that loads (a torn newer one is reported and skipped).

    Raises:
        UserError: the run has no checkpoint yet.
        RunFileError: none of its checkpoints loads.
    """
    from twist_agents.dreamer import DreamerAgent
    from twist_agents.runner.loop import load_newest_checkpoint

    found = load_newest_checkpoint(
        run_dir, lambda ckpt: DreamerAgent.from_checkpoint(ckpt / "agent.pt", device="cpu"), set_aside=False
    )
    if found is None:
        raise UserError(
            f"{run_dir} has no Dreamer checkpoint (checkpoints/ckpt-*/agent.pt): train it first with `twist train`"
        )
    return found[1]


def train_twist_run(req: TrainRequest) -> None:
    """Train a TWIST run with the lead's pipeline (teacher, then student distillation)."""
    try:
        from twist_agents.twist.pipeline import train_twist
    except ImportError as e:
        raise NotImplementedError(f"the TWIST pipeline (twist_agents.twist.pipeline) is missing: {e}") from e
    kwargs: dict[str, Any] = dict(
        env_id=req.env_id,
        run_dir=req.run_dir,
        preset=req.preset,
        seed=req.seed,
        teacher_steps=req.steps,
        distill_updates=req.distill_updates,
        resume=req.resume,
    )
    params = inspect.signature(train_twist).parameters
    if "max_episode_steps" in params:
        kwargs["max_episode_steps"] = req.max_episode_steps
    elif "env_kwargs" in params and req.max_episode_steps is not None:
        kwargs["env_kwargs"] = {"max_episode_steps": req.max_episode_steps}
    if "progress" in params:
        kwargs["progress"] = req.progress
    if "loop_overrides" in params:  # the teacher's loop: same debug adjustments as the Dreamer baselines
        kwargs["loop_overrides"] = _loop_overrides(req)
    train_twist(**kwargs)


def load_twist_run(run_dir: Path) -> Agent:
    """The deployable TWIST agent (student world model + teacher actor) of a finished run."""
    from twist_agents.twist.pipeline import load_twist

    return load_twist(run_dir)


__all__ = [
    "load_dreamer_run",
    "load_twist_run",
    "train_dreamer_variant",
    "train_twist_run",
]
