"""Runner glue for the world-model agents: Dreamer variants and TWIST.

The training itself lives in :func:`twist_agents.dreamer.trainer.train_dreamer` and
:func:`twist_agents.twist.pipeline.train_twist`; this module only maps a
:class:`~twist_agents.runner.request.TrainRequest` onto them and loads the trained agent back. Their modules
are imported inside the functions (they bring torch), so that ``twist --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twist_agents.errors import UserError
from twist_agents.protocol import Agent
from twist_agents.runner.recipes import Recipe, recipe_for
from twist_agents.runner.request import TrainRequest


def _recipe(req: TrainRequest) -> Recipe:
    """The env's recipe (:mod:`twist_agents.runner.recipes`), or none when the request asks for the preset alone."""
    return recipe_for(req.env_id) if req.task_recipe else Recipe()


def _loop_overrides(req: TrainRequest) -> dict[str, Any]:
    """Loop settings the runner changes: the env's recipe, the progress bar, no in-loop evaluation for ``debug``."""
    from twist_agents.training.loop import LOOP_PRESETS

    recipe = _recipe(req).loop
    if req.preset != "debug":
        return {**recipe, "progress": req.progress}
    steps = int(req.steps or LOOP_PRESETS["debug"].steps)
    # Tiny budgets: prefill for half of them at most, so that every debug run does updates.
    return {
        **recipe,
        "eval_every": 0,
        "prefill": min(recipe.get("prefill", LOOP_PRESETS["debug"].prefill), steps // 2),
        "checkpoint_every": max(1, steps // 2),
        "progress": req.progress,
    }


def _agent_overrides(req: TrainRequest) -> dict[str, dict[str, Any]] | None:
    """Agent-config fields the env's recipe replaces, by sub-config (``None``: the preset's)."""
    world_model = _recipe(req).world_model
    return {"world_model": dict(world_model)} if world_model else None


def _clock(summary: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: summary[k] for k in ("train_s", "budget_exhausted", *keys) if k in summary}


def train_dreamer_variant(req: TrainRequest) -> dict[str, Any]:
    """Train an ``oracle`` / ``dreamer-dr`` / ``dreamer-nodr`` / ``state-recon`` run.

    The variant (encode / decode keys, env randomisation) is the entry of
    :data:`~twist_agents.dreamer.trainer.DREAMER_VARIANTS` named ``req.agent``. The request's budget
    (``req.budget_s``) becomes the loop's ``budget_s``: the training wall clock, across resumes, without the
    in-loop evaluations.

    Returns:
        The loop's clock: ``train_s``, ``budget_exhausted``, ``eval_s``, ``wall_s``, ``env_steps``, ``updates``.
    """
    from twist_agents.dreamer.trainer import DREAMER_VARIANTS, train_dreamer

    randomization = DREAMER_VARIANTS[req.agent]["env_kwargs"].get("randomization", "train")
    env_kwargs: dict[str, Any] = {"randomization": randomization, **_recipe(req).env}
    if req.max_episode_steps is not None:
        env_kwargs["max_episode_steps"] = req.max_episode_steps
    summary = train_dreamer(
        req.env_id,
        agent=req.agent,
        preset=req.preset,
        seed=req.seed,
        steps=req.steps,
        run_dir=req.run_dir,
        resume=req.resume,
        env_kwargs=env_kwargs,
        loop_overrides={**_loop_overrides(req), "budget_s": req.budget_s},
        agent_overrides=_agent_overrides(req),
    )
    return _clock(summary, "eval_s", "wall_s", "env_steps", "updates")


def load_dreamer_run(run_dir: Path) -> Agent:
    """The Dreamer agent of a run's newest checkpoint that loads (a torn newer one is reported and skipped).

    Raises:
        UserError: the run has no checkpoint yet.
        RunFileError: none of its checkpoints loads.
    """
    from twist_agents.dreamer import DreamerAgent
    from twist_agents.training.checkpoints import load_newest_checkpoint

    found = load_newest_checkpoint(
        run_dir, lambda ckpt: DreamerAgent.from_checkpoint(ckpt / "agent.pt", device="cpu"), set_aside=False
    )
    if found is None:
        raise UserError(
            f"{run_dir} has no Dreamer checkpoint (checkpoints/ckpt-*/agent.pt): train it first with `twist train`"
        )
    return found[1]


def train_twist_run(req: TrainRequest) -> dict[str, Any]:
    """Train a TWIST run (teacher, then student distillation) with :func:`~twist_agents.twist.pipeline.train_twist`.

    The teacher's loop gets the same debug adjustments as the Dreamer baselines (:func:`_loop_overrides`).
    The request's budget (``req.budget_s``) is the whole run's; ``train_twist`` splits it between teacher and
    distillation.

    Returns:
        The stage clocks of the run's ``summary.json``: ``train_s``, ``budget_exhausted``, ``teacher_s``,
        ``teacher_eval_s``, ``teacher_budget_exhausted``, ``distill_s``, ``distill_budget_s``, ...
    """
    from twist_agents.twist.pipeline import read_summary, train_twist

    train_twist(
        env_id=req.env_id,
        run_dir=req.run_dir,
        preset=req.preset,
        seed=req.seed,
        teacher_steps=req.steps,
        distill_updates=req.distill_updates,
        resume=req.resume,
        max_episode_steps=req.max_episode_steps,
        progress=req.progress,
        loop_overrides=_loop_overrides(req),
        teacher_overrides=_agent_overrides(req),
        teacher_env_kwargs=_recipe(req).env,
        budget_s=req.budget_s,
    )
    keys = ("teacher_s", "teacher_eval_s", "teacher_budget_s", "teacher_budget_exhausted", "teacher_env_steps")
    keys += ("teacher_share", "distill_s", "distill_budget_s", "distill_stopped_on_time", "distill_updates_done")
    return _clock(read_summary(req.run_dir), *keys)


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
