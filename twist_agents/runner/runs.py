"""One run of the runner: train an agent by name into a run directory, evaluate it, mark it done.

Run directory layout (every agent)::

    <run_dir>/
      run.json                 what was asked: agent, env id, seed, preset, budgets (the run's config); after
                               training also its clock: train_s, budget_exhausted (+ the agent's stage clocks)
      metrics.csv  tb/         training metrics (CSV + TensorBoard), ``train/return`` per episode
      checkpoints/             the agent's checkpoints (resume + final)
      eval/<split>/returns.csv per-episode evaluation returns (agent, env_id, seed, split, ...)
      eval/<split>/episode_000.mp4
      DONE                     written last by :func:`run_cell`; ``compare`` skips runs that have it

Wall-clock budget (``TrainRequest.budget_minutes``): every agent gets the same *training* wall clock, measured by
its trainer in the run's process and summed over resumes (persisted with its checkpoints): env steps, updates
and checkpoints count; the in-loop evaluation episodes (the learning-curve points) and the final held-out
evaluation of :func:`run_cell` do not. The Dreamer variants stop in their loop (the cut episode is stored as a
truncation), asymmetric SAC in its SB3 callback, TWIST splits the budget between its teacher and distillation
(:func:`~twist_agents.twist.pipeline.train_twist`). ``run.json`` records ``budget_minutes``, the measured
``train_s`` and ``budget_exhausted`` (the budget, not a step count, ended training).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twist_agents.data.atomic import atomic_write_text
from twist_agents.errors import RunFileError, UserError
from twist_agents.protocol import Agent
from twist_agents.runner.agents import PRESET_DEFAULTS, TrainRequest, get_agent, resolve
from twist_agents.runner.validate import check_positive, check_request
from twist_agents.training.evaluate import EvalResult, evaluate, make_eval_env

RUN_CONFIG = "run.json"
"""The runner-level config of a run (agent-specific configs live beside it)."""
DONE_MARKER = "DONE"
"""Written after training and evaluation of a ``compare`` cell finished."""
EVAL_SPLITS = ("test", "train", "none")
"""Env ``randomization`` values an evaluation may use."""
EVAL_SEED_OFFSET = 1_000_000
"""Eval episode ``i`` of seed ``s`` resets with ``EVAL_SEED_OFFSET + 1000 * s + i`` (not a training seed)."""


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str))


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The ``run.json`` of a run directory.

    Raises:
        UserError: ``run_dir`` is missing or is not a run directory.
        RunFileError: its ``run.json`` does not load.
    """
    path = Path(run_dir) / RUN_CONFIG
    if not path.is_file():
        what = "does not exist" if not Path(run_dir).exists() else f"is not a run directory (no {RUN_CONFIG})"
        raise UserError(f"{run_dir} {what}: pass a folder written by `twist train`")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunFileError(f"{path} does not load ({type(e).__name__}: {e}); train the run again") from None


def train_run(request: TrainRequest, context: Mapping[str, Any] | None = None) -> TrainRequest:
    """Train ``request.agent`` (resuming if possible) and write ``run.json``; returns the resolved request.

    ``run.json`` is written before training (the config, plus ``context``: e.g. how ``compare`` ran the cell) and
    again after it with the training clock the agent reports: ``train_s`` (seconds of training wall clock over all
    resumes, evaluation excluded), ``budget_exhausted``, and the agent's details under ``training``.
    """
    check_request(request)  # before anything is created or trained
    req = resolve(request)
    spec = get_agent(req.agent)
    req.run_dir.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in dataclasses.asdict(req).items() if k not in ("resume", "progress")}
    config.update(train_randomization=spec.train_randomization, input_keys=list(spec.input_keys), **(context or {}))
    _write_json(req.run_dir / RUN_CONFIG, config)
    clock = dict(spec.train(req))
    config.update(
        train_s=clock.pop("train_s", None), budget_exhausted=bool(clock.pop("budget_exhausted", False)), training=clock
    )
    _write_json(req.run_dir / RUN_CONFIG, config)
    return req


def eval_run(
    run_dir: str | Path,
    split: str | None = "test",
    episodes: int | None = None,
    seed: int | None = None,
    video_episodes: int = 1,
    video_format: str = "mp4",
    max_episode_steps: int | None = None,
    progress: bool = True,
    env_id: str | None = None,
    env_kwargs: Mapping[str, Any] | str | None = None,
) -> EvalResult:
    """Evaluate a trained run on ``split``; writes ``<run_dir>/eval/<split>/returns.csv`` and videos.

    Args:
        run_dir: A directory written by :func:`train_run`.
        split: Env ``randomization`` for evaluation (``"test"`` = held-out appearances, as the paper);
            ``None`` = ``"test"``, or none for an ``env_id`` without splits (the real robot).
        episodes: Episodes; ``None`` = the preset's default.
        seed: First episode seed; ``None`` = derived from the run's seed (never a training seed).
        video_episodes: How many episodes to film.
        video_format: ``"mp4"`` or ``"gif"``.
        max_episode_steps: Episode cap; ``None`` = the cap the run trained with.
        progress: Show a progress bar.
        env_id: Evaluate in this env instead of the run's, e.g. ``"TWIST/BlockPush-Real-v0"``: the
            deployment path of :mod:`~twist_agents.runner.deploy` (outputs in ``<run_dir>/eval/<env>/...``).
        env_kwargs: Keywords of the env (a mapping, or ``--env-kwargs`` text ``"robot=sim,camera=sim"``).
    """
    run_dir, target_id = Path(run_dir), env_id
    if split is not None and split not in EVAL_SPLITS:
        raise UserError(f"split must be one of {', '.join(EVAL_SPLITS)}, got {split!r}")
    check_positive("episodes", episodes)
    check_positive("max_episode_steps", max_episode_steps)
    check_positive("video_episodes", video_episodes, allow_zero=True)
    cfg = read_run_config(run_dir)
    try:
        spec = get_agent(cfg["agent"])
        episodes = episodes if episodes is not None else PRESET_DEFAULTS[cfg["preset"]]["eval_episodes"]
        seed = seed if seed is not None else EVAL_SEED_OFFSET + 1000 * int(cfg["seed"])
        env_id = cfg["env_id"]
    except (KeyError, ValueError, TypeError) as e:
        raise RunFileError(
            f"{run_dir / RUN_CONFIG} is incomplete ({type(e).__name__}: {e}); train the run again"
        ) from None
    cap = max_episode_steps if max_episode_steps is not None else cfg.get("max_episode_steps")
    deployment = None
    if (target_id is not None and target_id != env_id) or env_kwargs:  # another env: checked before loading
        from twist_agents.runner.deploy import prepare

        deployment = prepare(cfg, run_dir, target_id or env_id, env_kwargs, split, max_episode_steps)
    split = split or "test"
    try:
        agent = spec.load(run_dir, cfg["preset"])
    except FileNotFoundError as e:  # trained too briefly to leave a checkpoint, or a stage is missing
        raise UserError(f"{run_dir} has nothing to evaluate yet ({e}); finish it with `twist train`") from None
    if deployment is not None:
        env = deployment.open()
        out_dir, labels = deployment.out_dir, deployment.labels
        deployment.record(env, episodes, seed)
        progress = progress and deployment.sim  # a bar would garble the operator's prompts
    else:
        env = make_eval_env(env_id, spec.input_keys, split=split, max_episode_steps=cap)
        out_dir = run_dir / "eval" / split
        labels = {"agent": cfg["agent"], "env_id": env_id, "seed": cfg["seed"], "split": split}
    try:
        return evaluate(
            agent,
            env,
            spec.input_keys,
            episodes=episodes,
            seed=seed,
            out_dir=out_dir,
            video_episodes=video_episodes,
            video_format=video_format,
            progress=progress,
            labels=labels,
        )
    finally:
        env.close()


def load_run_agent(run_dir: str | Path) -> tuple[Agent, tuple[str, ...]]:
    """The trained agent of a run directory, ready to act, and the observation keys it reads.

    What the deployment snippet of docs/hardware.md starts from: ``agent.act({k: obs[k] for k in keys}, state,
    explore=False)`` (``keys`` is ``("pixels",)`` for TWIST, ``("state",)`` for the Oracle).

    Raises:
        UserError: not a run directory, or nothing to load yet.
    """
    cfg = read_run_config(run_dir)
    spec = get_agent(cfg["agent"])
    try:
        return spec.load(Path(run_dir), cfg["preset"]), spec.input_keys
    except FileNotFoundError as e:
        raise UserError(f"{run_dir} has nothing to evaluate yet ({e}); finish it with `twist train`") from None


def run_cell(
    request: TrainRequest,
    eval_episodes: int | None = None,
    split: str = "test",
    video_episodes: int = 1,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train + evaluate one grid cell unless its ``DONE`` marker exists; return a small summary.

    Safe to call again after an interruption: training resumes from its checkpoint, and a finished
    cell is skipped. Torch uses ``TWIST_TORCH_THREADS`` threads (default 1), recorded in ``run.json`` as
    ``torch_threads`` beside ``context`` (``compare`` passes its backend and worker count). The final
    evaluation is not part of the run's training clock (``train_s``) or its budget.
    """
    run_dir = Path(request.run_dir)
    if (run_dir / DONE_MARKER).exists():
        return {"run_dir": str(run_dir), "status": "skipped"}
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("TWIST_TORCH_THREADS", "1"))))
    req = train_run(request, {**(context or {}), "torch_threads": torch.get_num_threads()})
    result = eval_run(
        run_dir, split=split, episodes=eval_episodes, video_episodes=video_episodes, progress=req.progress
    )
    trained = read_run_config(run_dir)
    summary = {
        "run_dir": str(run_dir),
        "status": "done",
        "mean_return": result.mean_return,
        "episodes": len(result.returns),
        "train_s": trained.get("train_s"),
        "budget_exhausted": trained.get("budget_exhausted"),
    }
    _write_json(run_dir / DONE_MARKER, summary)
    return summary


def result_files(run_dir: str | Path) -> dict[str, bytes]:
    """The small result files of a run (relative path -> bytes), for backends without a shared disk."""
    run_dir = Path(run_dir)
    files: dict[str, bytes] = {}
    for pattern in (RUN_CONFIG, "metrics.csv", "*/metrics.csv", "eval/*/returns.csv", DONE_MARKER):
        for p in run_dir.glob(pattern):
            files[str(p.relative_to(run_dir))] = p.read_bytes()
    return files
