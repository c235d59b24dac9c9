"""``twist compare``: a grid of agents x env ids x seeds, run locally or on a Ray cluster, then results.

Each cell is :func:`twist_agents.runner.runs.run_cell` (train, evaluate on ``randomization="test"``,
write ``DONE``) in ``<out>/runs/<agent>/<env>/seed<k>``. A re-run of the same command skips finished
cells and resumes unfinished ones from their checkpoints. Afterwards
:func:`twist_agents.runner.results.write_results` writes the table, IQM and plots to ``<out>/results``.

Backends:

- ``local`` (default): a process pool of at most ``workers`` processes (spawned, one torch thread each).
  Each cell's ``run.json`` records the backend, the number of worker processes that ran at once and its torch
  threads, since the training wall clock of a run depends on them.
- ``ray``: one Ray task per cell (``num_cpus=1``) on the cluster at ``address`` (``ray.init(address)``;
  without an address a local Ray instance is started). Workers write the run directories; their small
  result files (``run.json``, ``metrics.csv``, ``returns.csv``, ``DONE``) also travel back with the
  task's return value, so the driver's result files are the same with or without a shared disk.
  Install with ``pip install "twist[ray]"``. Before Ray is asked to connect, a plain TCP connect to the
  address must succeed within ``connect_timeout`` seconds
  (:func:`~twist_agents.runner.validate.check_ray_address`): Ray itself retries
  an unreachable address for minutes.

Equal compute: with ``budget_minutes`` every cell trains for the same wall clock (see
:mod:`twist_agents.runner.runs`): the training time in its own process, summed over resumes, without the
evaluation episodes; without ``steps`` the step cap is unlimited, so the budget ends every run. Each cell's
``run.json`` records the measured ``train_s`` and ``budget_exhausted``.

Everything is checked before the first run starts (agents, env ids, budgets, the output folder, the address);
a mistake raises :class:`~twist_agents.errors.UserError`.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from twist_agents.errors import UserError, describe
from twist_agents.runner.agents import TrainRequest, get_agent
from twist_agents.runner.results import write_results
from twist_agents.runner.runs import DONE_MARKER, result_files, run_cell
from twist_agents.runner.validate import (
    DEFAULT_CONNECT_TIMEOUT,
    check_budget_minutes,
    check_env_for_agent,
    check_positive,
    check_ray_address,
    check_run_dir,
)

BACKENDS = ("local", "ray")
"""Names accepted by ``--backend``."""
MAX_LOCAL_WORKERS = 2
"""Upper bound on local worker processes (this project's machines have 2 cores)."""


@dataclasses.dataclass(frozen=True)
class GridCell:
    """One (agent, env, seed) cell of a comparison grid."""

    request: TrainRequest
    """The training run."""
    eval_episodes: int | None
    """Evaluation episodes (``None`` = the preset's default)."""
    context: tuple[tuple[str, Any], ...] = ()
    """How the cell is run (backend, worker processes), recorded in its ``run.json``."""


def env_slug(env_id: str) -> str:
    """Directory name of an env id: ``TWIST/CupCatch-Distracting-v0`` -> ``TWIST_CupCatch-Distracting-v0``."""
    return env_id.replace("/", "_")


def make_grid(
    agents: Sequence[str],
    envs: Sequence[str],
    seeds: Iterable[int],
    out_dir: str | Path,
    preset: str = "cpu",
    steps: int | None = None,
    max_episode_steps: int | None = None,
    eval_episodes: int | None = None,
    progress: bool = False,
    budget_minutes: float | None = None,
) -> list[GridCell]:
    """All cells of the grid, each with its own run directory under ``<out_dir>/runs``, each with the same budgets."""
    for a in agents:
        get_agent(a)  # fail early on a typo
    root = Path(out_dir) / "runs"
    return [
        GridCell(
            TrainRequest(
                agent=a,
                env_id=e,
                run_dir=root / a / env_slug(e) / f"seed{s}",
                preset=preset,
                seed=s,
                steps=steps,
                budget_minutes=budget_minutes,
                max_episode_steps=max_episode_steps,
                resume=True,
                progress=progress,
            ),
            eval_episodes,
        )
        # Seed-major: an interrupted grid has every agent at its first seeds, not some agents at all seeds.
        for e in envs
        for s in seeds
        for a in agents
    ]


def check_grid(agents: Sequence[str], envs: Sequence[str], seeds: Sequence[int], out_dir: str | Path) -> None:
    """Every agent and env id of a grid exists and fits, there is at least one seed, ``out_dir`` can be written.

    Raises:
        UserError: what is wrong, and what to pass instead.
    """
    if not agents:
        raise UserError("--agents is empty: pass comma-separated agent names, e.g. --agents twist,oracle")
    if not envs:
        raise UserError("--envs is empty: pass comma-separated env ids, e.g. --envs TWIST/CupCatch-Distracting-v0")
    if not seeds:
        raise UserError("--seeds must be >= 1 (the number of seeds per agent and env)")
    if any(s < 0 for s in seeds):
        raise UserError(f"seeds must be >= 0, got {list(seeds)}")
    for a in agents:
        get_agent(a)
    for e in dict.fromkeys(envs):  # each env once: the check may build it
        check_env_for_agent(e, agents[0])
    check_run_dir(out_dir, "--out")


def _run_cell(cell: GridCell) -> dict[str, Any]:
    """Worker body: one cell; a failure is reported in the summary instead of aborting the grid."""
    import traceback

    try:
        summary = run_cell(cell.request, eval_episodes=cell.eval_episodes, context=dict(cell.context))
    except Exception as e:  # noqa: BLE001  (one broken cell must not lose the others' results)
        return {
            "run_dir": str(cell.request.run_dir),
            "status": "failed",
            "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(),
        }
    summary["files"] = result_files(cell.request.run_dir)
    return summary


def _with_context(cells: Sequence[GridCell], **context: Any) -> list[GridCell]:
    return [dataclasses.replace(c, context=tuple(context.items())) for c in cells]


def _run_local(cells: Sequence[GridCell], workers: int) -> list[dict[str, Any]]:
    workers = max(1, min(workers, MAX_LOCAL_WORKERS, len(cells)))
    cells = _with_context(cells, backend="local", workers=workers)
    out = []
    # spawn, not fork: forked MuJoCo/EGL contexts and torch thread pools are unsafe in children.
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_run_cell, c): c for c in cells}
        for f in tqdm(as_completed(futures), total=len(futures), desc="compare", unit="run"):
            out.append(f.result())
    return out


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:  # the optional extra
        from gymnasium.error import DependencyNotInstalled

        raise DependencyNotInstalled('the Ray backend needs ray; install it with `pip install "twist[ray]"`') from e
    return ray


def _run_ray(
    cells: Sequence[GridCell],
    address: str | None,
    workers: int,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> list[dict[str, Any]]:
    if address:
        check_ray_address(address, connect_timeout)  # before Ray's own minutes-long retry loop
    ray = _import_ray()
    started_here = False
    if not ray.is_initialized():
        if address:
            try:
                ray.init(address=address, log_to_driver=False)
            except ConnectionError as e:  # e.g. "auto" with no cluster running
                raise UserError(
                    f"cannot connect to the Ray cluster at {address} ({describe(e)}): start one with `ray start --head`"
                ) from None
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        started_here = True
    cells = _with_context(cells, backend="ray", workers=workers if not address else None, address=address)
    try:
        task = ray.remote(num_cpus=1)(_run_cell)
        pending = [task.remote(c) for c in cells]
        out = []
        with tqdm(total=len(pending), desc="compare (ray)", unit="run") as bar:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                out.extend(ray.get(ready))
                bar.update(len(ready))
        return out
    finally:
        if started_here:
            ray.shutdown()


def run_grid(
    cells: Sequence[GridCell],
    backend: str = "local",
    address: str | None = None,
    workers: int = MAX_LOCAL_WORKERS,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> list[dict[str, Any]]:
    """Run every unfinished cell on ``backend``; returns one summary dict per cell run.

    Cells whose run directory holds ``DONE`` are not submitted at all. ``connect_timeout`` bounds the
    pre-flight connect to a Ray ``address`` (:func:`~twist_agents.runner.validate.check_ray_address`).
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    todo = [c for c in cells if not (Path(c.request.run_dir) / DONE_MARKER).exists()]
    skipped = [{"run_dir": str(c.request.run_dir), "status": "skipped"} for c in cells if c not in todo]
    if not todo:
        return skipped
    done = _run_ray(todo, address, workers, connect_timeout) if backend == "ray" else _run_local(todo, workers)
    for summary in done:  # result files from remote workers (no-op on a shared disk)
        run_dir = Path(summary["run_dir"])
        for rel, data in summary.pop("files", {}).items():
            target = run_dir / rel
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    return skipped + done


def compare(
    agents: Sequence[str],
    envs: Sequence[str],
    seeds: int | Sequence[int],
    out_dir: str | Path,
    preset: str = "cpu",
    steps: int | None = None,
    max_episode_steps: int | None = None,
    eval_episodes: int | None = None,
    backend: str = "local",
    address: str | None = None,
    workers: int = MAX_LOCAL_WORKERS,
    paper_table: bool = False,
    bootstrap_reps: int = 2000,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    budget_minutes: float | None = None,
) -> tuple[dict[str, Path], list[dict[str, Any]]]:
    """Run the grid and write the results.

    Returns:
        ``(result files (see :func:`write_results`), one summary per cell with its "status":
        "done" / "skipped" / "failed" (+ "error"))``.

    Args:
        agents: Agent names.
        envs: Env ids.
        seeds: Number of seeds (``0..n-1``) or explicit seeds.
        out_dir: Output root (``runs/`` and ``results/`` inside).
        preset: Size preset of every run.
        steps: Env-step budget per run (``None`` = preset default; with ``budget_minutes``: unlimited).
        max_episode_steps: Episode cap (``None`` = preset default).
        eval_episodes: Evaluation episodes per run (``None`` = preset default).
        backend: ``"local"`` or ``"ray"``.
        address: Ray cluster address (``ray`` backend).
        workers: Local processes (at most 2) / Ray CPUs when Ray is started here.
        paper_table: Also print the paper's Table I beside ours.
        bootstrap_reps: Bootstrap replications of the IQM CIs.
        connect_timeout: Seconds the pre-flight TCP connect to a Ray ``address`` may take.
        budget_minutes: Training wall-clock budget of every run, in minutes (``None``: none): the training time
            in the run's process, summed over resumes, without in-loop evaluation episodes and without the final
            held-out evaluation (see :mod:`twist_agents.runner.runs`). ``twist`` gives 2/3 of it to its teacher
            and the rest to distillation.

    Raises:
        UserError: an empty or unknown agent/env list, a non-positive count or budget, an unusable output folder,
            ``address`` without the ``ray`` backend, or no Ray cluster answering at ``address``.
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    check_grid(agents, envs, seed_list, out_dir)
    for name, value in (
        ("steps", steps),
        ("max_episode_steps", max_episode_steps),
        ("eval_episodes", eval_episodes),
        ("workers", workers),
        ("bootstrap_reps", bootstrap_reps),
        ("connect_timeout", connect_timeout),
    ):
        check_positive(name, value)
    check_budget_minutes(budget_minutes)
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if address and backend != "ray":
        raise UserError(f"--address {address} needs --backend ray (the {backend} backend runs on this machine)")
    cells = make_grid(
        agents, envs, seed_list, out_dir, preset, steps, max_episode_steps, eval_episodes, budget_minutes=budget_minutes
    )
    summaries = run_grid(cells, backend=backend, address=address, workers=workers, connect_timeout=connect_timeout)
    files = write_results(Path(out_dir) / "runs", Path(out_dir) / "results", paper=paper_table, reps=bootstrap_reps)
    return files, summaries
