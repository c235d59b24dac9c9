"""Learning curves of the state Oracle (Dreamer on privileged state) next to DreamerV3's published curves.

    MUJOCO_GL=egl .venv/bin/python benchmarks/learning.py \\
        --envs TWIST/CartpoleBalance-Distracting-v0 --seeds 0,1,2 --steps 50000 [--jobs 2]

Each (env, seed) run trains ``twist_agents.dreamer.trainer.train_dreamer(agent="oracle")`` with the shipped
preset (``--preset cpu``) on ``obs_mode="state", randomization="none"``, evaluates every ``--eval-every``
agent steps on ``--eval-episodes`` episodes with the policy's mode (``explore=False``), and records the
curve. Runs live in ``--runs-dir`` and resume after an interruption (run the same command again): a
grid can finish across kills. ``--jobs`` runs go in parallel as separate processes with one torch
thread each (2 cores: ``--jobs 2``).

Output: ``benchmarks/results/learning.json`` (merged with runs already there, keyed by env, agent,
preset and seed)::

    {"commit": ..., "runs": [{"env_id", "agent", "preset", "seed", "steps": [...], "returns": [...],
      "wall_s", "updates", "overrides"}], "reference": {...}}

and ``benchmarks/results/learning.png``: our mean and per-seed curves beside DreamerV3's mean.

Step counting. Our ``steps`` are *agent* steps (one policy decision; the Distracting-Control envs
repeat each action for 2 physics control steps). DreamerV3's score files log ``episode/score`` at
a step counter that its logger multiplies by the env's action repeat (``dmc.repeat = 2``), i.e. they
count *env frames*. So our agent step ``s`` compares like for like with DreamerV3's ``x = 2 s``; the
JSON's ``reference`` gives DreamerV3's means at both readings (``by_frames`` = the file's x axis,
``by_agent_steps`` = converted to our axis).
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import json
import multiprocessing as mp
import os
import subprocess
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

# DreamerV3's published proprio-control scores (danijar/dreamerv3, scores/dmc_proprio-dreamerv3.json.gz):
# mean episode return over its 5 seeds at the file's step counter x = 10k, 20k, ..., 200k env frames.
DREAMERV3_PROPRIO_MEAN: dict[str, list[int]] = {
    "ball_in_cup_catch": [
        0,
        224,
        313,
        475,
        571,
        731,
        749,
        735,
        756,
        730,
        798,
        948,
        963,
        947,
        951,
        957,
        943,
        955,
        943,
        949,
    ],
    "cartpole_balance": [
        316,
        227,
        371,
        486,
        490,
        579,
        695,
        749,
        792,
        840,
        832,
        846,
        915,
        908,
        934,
        952,
        971,
        982,
        974,
        941,
    ],
    "cheetah_run": [9, 54, 170, 191, 228, 267, 261, 301, 311, 283, 328, 360, 330, 370, 352, 405, 376, 372, 406, 425],
    "finger_turn_easy": [
        295,
        30,
        254,
        162,
        73,
        501,
        409,
        289,
        172,
        395,
        471,
        596,
        840,
        531,
        599,
        324,
        563,
        461,
        551,
        570,
    ],
    "hopper_stand": [3, 3, 13, 38, 17, 41, 74, 127, 132, 59, 168, 194, 201, 228, 245, 255, 252, 226, 343, 320],
    "walker_walk": [43, 89, 134, 217, 289, 363, 388, 427, 481, 475, 599, 607, 596, 699, 738, 790, 797, 783, 815, 799],
}
DREAMERV3_X = [10_000 * (i + 1) for i in range(20)]
ACTION_REPEAT = 2
TASKS = {
    "CupCatch": "ball_in_cup_catch",
    "CartpoleBalance": "cartpole_balance",
    "CheetahRun": "cheetah_run",
    "FingerTurnEasy": "finger_turn_easy",
    "HopperStand": "hopper_stand",
    "WalkerWalk": "walker_walk",
}


def dmc_task(env_id: str) -> str | None:
    """DreamerV3's task name for one of our Distracting-Control ids (``None`` for other envs)."""
    for ours, theirs in TASKS.items():
        if f"/{ours}-" in env_id:
            return theirs
    return None


def reference() -> dict[str, Any]:
    """DreamerV3's mean curves on the file's axis (env frames) and on ours (agent steps = frames / 2)."""
    return {
        "source": "danijar/dreamerv3 scores/dmc_proprio-dreamerv3.json.gz, mean of 5 seeds",
        "step_counting": "file x counts env frames (logger multiplier = action repeat 2); agent steps = x / 2",
        "by_frames": {t: {"steps": DREAMERV3_X, "returns": m} for t, m in DREAMERV3_PROPRIO_MEAN.items()},
        "by_agent_steps": {
            t: {"steps": [x // ACTION_REPEAT for x in DREAMERV3_X], "returns": m}
            for t, m in DREAMERV3_PROPRIO_MEAN.items()
        },
    }


def _parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["behavior.imag_starts=0", "loop.train_ratio=256"]`` -> ``{"behavior": {...}, "loop": {...}}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, _, raw = item.partition("=")
        part, _, field = key.partition(".")
        if part not in ("behavior", "world_model", "loop") or not field or not raw:
            raise SystemExit(f"learning.py: bad --override {item!r}; use behavior.X=V, world_model.X=V or loop.X=V")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(part, {})[field] = value
    return out


def run_dir_of(runs_dir: Path, env_id: str, preset: str, seed: int, tag: str) -> Path:
    """Where one run lives (stable, so a rerun of the same command resumes it)."""
    name = env_id.replace("/", "_") + f"_{preset}" + (f"_{tag}" if tag else "") + f"_seed{seed}"
    return runs_dir / name


def eval_curve(run_dir: Path) -> tuple[list[int], list[float], float, int]:
    """``(steps, eval returns, wall seconds, updates)`` read from a run's ``metrics.csv``."""
    steps, returns, wall, updates = [], [], 0.0, 0
    path = run_dir / "metrics.csv"
    if not path.exists():
        return steps, returns, wall, updates
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("wall_s"):
                wall = max(wall, float(row["wall_s"]))
            if row.get("updates"):
                updates = max(updates, int(float(row["updates"])))
            if row.get("eval/return"):
                step = int(row["step"])
                if steps and step <= steps[-1]:  # a resumed run re-evaluated a step: keep the newest
                    while steps and step <= steps[-1]:
                        steps.pop()
                        returns.pop()
                steps.append(step)
                returns.append(float(row["eval/return"]))
    return steps, returns, wall, updates


def _train_one(job: dict[str, Any]) -> dict[str, Any]:
    """One (env, seed) run in its own process with one torch thread."""
    import torch

    torch.set_num_threads(1)
    from twist_agents.dreamer.trainer import train_dreamer

    ov = job["overrides"]
    loop_ov = {
        "eval_every": job["eval_every"],
        "eval_episodes": job["eval_episodes"],
        "progress": False,
        "tensorboard": False,
        **ov.get("loop", {}),
    }
    agent_ov = {k: v for k, v in ov.items() if k != "loop"}
    run_dir = Path(job["run_dir"])
    t0 = time.time()
    train_dreamer(
        job["env_id"],
        agent="oracle",
        preset=job["preset"],
        seed=job["seed"],
        steps=job["steps"],
        run_dir=run_dir,
        resume=True,
        env_kwargs={"obs_mode": "state", "randomization": "none"},
        loop_overrides=loop_ov,
        agent_overrides=agent_ov,
    )
    steps, returns, wall, updates = eval_curve(run_dir)
    curve = list(zip(steps, returns, strict=True))
    print(f"[learning] {job['env_id']} seed {job['seed']}: {curve} in {time.time() - t0:.0f} s")
    return {
        "env_id": job["env_id"],
        "agent": "oracle",
        "preset": job["preset"],
        "seed": job["seed"],
        "steps": steps,
        "returns": returns,
        "wall_s": round(wall, 1),
        "updates": updates,
        "eval_episodes": job["eval_episodes"],
        "eval_split": "randomization=none (state Oracle)",
        "overrides": ov,
        "tag": job["tag"],
    }


def _commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], text=True, cwd=Path(__file__).parent).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def merge(out: Path, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge ``runs`` into the JSON at ``out`` (same env, agent, preset, seed and tag: replaced)."""
    from twist_agents.data.atomic import atomic_write_text

    out.parent.mkdir(parents=True, exist_ok=True)
    # Two invocations may finish a run at the same moment: read-modify-write under a lock.
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        key = lambda r: (r["env_id"], r["agent"], r["preset"], r["seed"], r.get("tag", ""))
        kept = {key(r): r for r in data.get("runs", [])}
        for r in runs:
            kept[key(r)] = r
        data = {"commit": _commit(), "runs": sorted(kept.values(), key=key), "reference": reference()}
        atomic_write_text(out, json.dumps(data, indent=1))
    return data


def plot(data: dict[str, Any], path: Path) -> None:
    """Per env: each seed (thin), our mean (thick) and DreamerV3's mean on the agent-step axis (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in data["runs"]:
        if r.get("tag"):
            continue  # experiments with overrides are not the shipped preset's curve
        groups.setdefault((r["env_id"], r["preset"]), []).append(r)
    if not groups:
        return
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.6), squeeze=False)
    for ax, ((env_id, preset), runs) in zip(axes[0], sorted(groups.items()), strict=True):
        for r in runs:
            ax.plot(r["steps"], r["returns"], lw=0.8, alpha=0.5, label=f"seed {r['seed']}")
        common = sorted(set.intersection(*(set(r["steps"]) for r in runs)))
        if common:
            mean = [np.mean([r["returns"][r["steps"].index(s)] for r in runs]) for s in common]
            ax.plot(common, mean, lw=2.5, color="k", label=f"ours ({preset}), mean of {len(runs)}")
        task = dmc_task(env_id)
        if task:
            ref = data["reference"]["by_agent_steps"][task]
            limit = max(max(r["steps"], default=0) for r in runs) * 1.05
            xs = [x for x in ref["steps"] if x <= limit]
            ax.plot(xs, ref["returns"][: len(xs)], "--", color="tab:red", lw=2, label="DreamerV3 proprio (mean of 5)")
        ax.set_title(env_id.removeprefix("TWIST/"))
        ax.set_xlabel("agent steps (action repeat 2)")
        ax.set_ylabel("eval return (10 episodes, mode)")
        ax.set_ylim(0, 1000)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown_table(data: dict[str, Any], checkpoints: tuple[int, ...] = (25_000, 50_000, 100_000)) -> str:
    """Per env and agent-step count: every seed's return, the mean, and DreamerV3's mean read two ways.

    ``DreamerV3 (like for like)`` is its mean at env frame ``x = 2 s`` (the same agent steps ``s``);
    ``DreamerV3 (file x = s)`` reads its curve at ``x = s`` as if it counted agent steps (half our budget).
    """

    def at(run: dict[str, Any], step: int) -> float | None:
        pts = [r for s_, r in zip(run["steps"], run["returns"], strict=True) if s_ <= step]
        return pts[-1] if pts and max(run["steps"]) >= step else None

    def ref(task: str | None, x: int) -> str:
        if task is None or x not in DREAMERV3_X:
            return "-"
        return str(DREAMERV3_PROPRIO_MEAN[task][DREAMERV3_X.index(x)])

    rows = [
        "| env | agent steps | our seeds | our mean | DreamerV3 (like for like, x = 2 s) | DreamerV3 (file x = s) |",
        "|---|---|---|---|---|---|",
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in data["runs"]:
        if not r.get("tag"):
            groups.setdefault(r["env_id"], []).append(r)
    for env_id, runs in sorted(groups.items()):
        task = dmc_task(env_id)
        for step in checkpoints:
            vals = [at(r, step) for r in sorted(runs, key=lambda r: r["seed"])]
            if any(v is None for v in vals):
                continue
            seeds = ", ".join(f"{v:.0f}" for v in vals)  # type: ignore[str-format]
            mean = sum(vals) / len(vals)  # type: ignore[arg-type]
            rows.append(
                f"| {env_id.removeprefix('TWIST/')} | {step // 1000}k | {seeds} | **{mean:.0f}** | "
                f"{ref(task, 2 * step)} | {ref(task, step)} |"
            )
    return "\n".join(rows)


def main() -> None:
    """Parse the command line, run the grid (resuming), write the JSON and the PNG."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", default="TWIST/CartpoleBalance-Distracting-v0", help="comma-separated env ids")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--steps", type=int, default=50_000, help="agent steps per run")
    p.add_argument("--preset", default="cpu", help="agent + loop preset (default: cpu)")
    p.add_argument("--eval-every", type=int, default=5000, help="agent steps between evaluations")
    p.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation")
    p.add_argument("--jobs", type=int, default=2, help="parallel processes (1 torch thread each)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs/learning"), help="where the runs live")
    p.add_argument("--out", type=Path, default=RESULTS / "learning.json", help="result JSON")
    p.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="PART.FIELD=VALUE",
        help="experiment: replace a preset field (behavior.*, world_model.*, loop.*); needs --tag",
    )
    p.add_argument("--tag", default="", help="name of an experiment (runs with overrides are kept apart)")
    p.add_argument("--table", action="store_true", help="print the markdown table of --out and the plot; run nothing")
    args = p.parse_args()
    if args.table:
        data = json.loads(args.out.read_text())
        plot(data, args.out.with_suffix(".png"))
        print(markdown_table(data))
        return
    overrides = _parse_overrides(args.override)
    if overrides and not args.tag:
        raise SystemExit("learning.py: --override changes the preset; name the experiment with --tag")
    os.environ.setdefault("MUJOCO_GL", "egl")
    jobs = [
        {
            "env_id": env_id,
            "seed": seed,
            "steps": args.steps,
            "preset": args.preset,
            "eval_every": args.eval_every,
            "eval_episodes": args.eval_episodes,
            "overrides": overrides,
            "tag": args.tag,
            "run_dir": str(run_dir_of(args.runs_dir, env_id, args.preset, seed, args.tag)),
        }
        for env_id in [e.strip() for e in args.envs.split(",") if e.strip()]
        for seed in [int(s) for s in args.seeds.split(",") if s.strip()]
    ]
    done: list[dict[str, Any]] = []
    with mp.get_context("spawn").Pool(max(1, min(args.jobs, len(jobs))), maxtasksperchild=1) as pool:
        for result in pool.imap_unordered(_train_one, jobs):
            done.append(result)
            data = merge(args.out, [result])  # write as each run finishes: a kill keeps what is done
            plot(data, args.out.with_suffix(".png"))
    print(json.dumps([{k: r[k] for k in ("env_id", "seed", "steps", "returns", "wall_s")} for r in done], indent=1))


if __name__ == "__main__":
    main()
