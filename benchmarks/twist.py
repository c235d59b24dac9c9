"""TWIST end to end at benchmark scale: teacher -> dataset -> distillation -> evaluation, with the paper's ablations.

    MUJOCO_GL=egl .venv/bin/python benchmarks/twist.py --env TWIST/CartpoleBalance-Distracting-v0 \\
        --seeds 0,1,2 --variants full,no-imagined,no-noise [--jobs 2]

Per seed:

1. **teacher**: the state Oracle of ``benchmarks/learning.py``'s run of the same env, preset and seed
   (``--learning-runs``), or trained here with the same code if that run is missing (``--teacher-steps``);
2. **dataset** D: the teacher rolled out (exploring) in the paired, train-randomised env for
   ``--dataset-steps`` steps (:func:`twist_agents.twist.pipeline.collect_dataset`), shared by the variants;
3. **distillation** per variant (``full`` = Eq. 3 + Eq. 4; the paper's Fig. 6 ablations ``no-imagined`` =
   without Eq. 4, ``no-noise`` = Eq. 4 without action noise);
4. **evaluation** (10 episodes each, modes): the student from pixels on held-out (``test``) and on
   ``train`` appearances, the teacher on state, a random policy.

Everything resumes (run the same command again). Output: ``benchmarks/results/twist.json`` (per seed and
variant: returns, student/teacher ratios, wall clock of each stage, load average) and ``twist_iqm.png``: the
IQM of the teacher-normalised held-out return per variant with 95% stratified-bootstrap CIs (rliable), the
episodes of all seeds pooled as runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = {
    "full": {},
    "no-imagined": {"imagined": False},
    "no-noise": {"noisy_actions": False},
}
"""Distillation variants: the paper's full TWIST and its two Fig. 6 ablations (DistillConfig overrides)."""


def _teacher_path(args: dict[str, Any], seed: int) -> Path:
    """The teacher checkpoint for ``seed``: the learning benchmark's run, else one trained here (resumable)."""
    import torch

    from twist_agents.dreamer.trainer import train_dreamer
    from twist_agents.training.checkpoints import latest_checkpoint

    name = args["env"].replace("/", "_") + f"_{args['preset']}_seed{seed}"
    learned = latest_checkpoint(Path(args["learning_runs"]) / name)
    if learned is not None:
        return learned / "agent.pt"
    run = Path(args["runs_dir"]) / f"seed{seed}" / "teacher"
    torch.set_num_threads(1)
    train_dreamer(
        args["env"],
        "oracle",
        preset=args["preset"],
        seed=seed,
        steps=args["teacher_steps"],
        run_dir=run,
        resume=True,
        env_kwargs={"obs_mode": "state", "randomization": "none"},
        loop_overrides={"eval_every": 0, "progress": False, "tensorboard": False},
    )
    ckpt = latest_checkpoint(run)
    assert ckpt is not None
    return ckpt / "agent.pt"


def _dataset_job(job: dict[str, Any]) -> dict[str, Any]:
    """Teacher (found or trained) and its dataset for one seed."""
    import torch

    torch.set_num_threads(1)
    from twist_agents.dreamer import DreamerAgent
    from twist_agents.twist.pipeline import collect_dataset

    seed_dir = Path(job["runs_dir"]) / f"seed{job['seed']}"
    t0 = time.time()
    teacher_file = _teacher_path(job, job["seed"])
    teacher_s = time.time() - t0
    t0 = time.time()
    teacher = DreamerAgent.from_checkpoint(teacher_file)
    collect_dataset(teacher, job["env"], seed_dir / "dataset", job["dataset_steps"], job["seed"], progress=False)
    info = {"teacher": str(teacher_file), "teacher_s_here": teacher_s, "dataset_s": time.time() - t0}
    done = seed_dir / "dataset.json"
    if not done.exists():
        done.write_text(json.dumps(info))
    return json.loads(done.read_text())


def _variant_job(job: dict[str, Any]) -> dict[str, Any]:
    """Distil one variant for one seed and evaluate it (cached in ``result.json``)."""
    import torch

    torch.set_num_threads(1)
    from twist_agents.dreamer import DreamerAgent
    from twist_agents.training.envs import make_env
    from twist_agents.training.evaluate import episode_returns as evaluate
    from twist_agents.twist.config import distill_config
    from twist_agents.twist.pipeline import RandomAgent, distil

    seed_dir = Path(job["runs_dir"]) / f"seed{job['seed']}"
    out = seed_dir / job["variant"]
    cached = out / "result.json"
    if cached.exists():
        return json.loads(cached.read_text())
    info = json.loads((seed_dir / "dataset.json").read_text())
    teacher = DreamerAgent.from_checkpoint(info["teacher"])
    cfg = distill_config(job["preset"], **VARIANTS[job["variant"]])
    if job["distill_updates"]:
        cfg = dataclasses.replace(cfg, updates=job["distill_updates"])
    t0 = time.time()
    agent = distil(teacher, seed_dir / "dataset", out / "student", cfg, job["seed"], resume=True, progress=False)
    distill_s = time.time() - t0
    t0 = time.time()
    returns: dict[str, list[float]] = {}
    eval_seed = 1000 + job["seed"]
    for name, who, kwargs in (
        ("student_heldout", agent, {"obs_mode": "pixels", "randomization": "test"}),
        ("student_train", agent, {"obs_mode": "pixels", "randomization": "train"}),
        ("teacher_state", teacher, {"obs_mode": "state", "randomization": "none"}),
        ("random", None, {"obs_mode": "state", "randomization": "none"}),
    ):
        env = make_env(job["env"], eval_seed, **kwargs)
        try:
            policy = who if who is not None else RandomAgent(env.action_space, eval_seed)
            returns[name] = evaluate(policy, env, job["eval_episodes"], eval_seed)  # type: ignore[arg-type]
        finally:
            env.close()
    teacher_mean = float(np.mean(returns["teacher_state"]))
    result = {
        "env_id": job["env"],
        "preset": job["preset"],
        "seed": job["seed"],
        "variant": job["variant"],
        "returns": returns,
        "ratio_heldout": float(np.mean(returns["student_heldout"])) / teacher_mean,
        "ratio_train": float(np.mean(returns["student_train"])) / teacher_mean,
        "distill_updates": cfg.updates,
        "dataset_steps": job["dataset_steps"],
        "wall_s": {"dataset": info["dataset_s"], "distill": distill_s, "eval": time.time() - t0},
        "teacher": info["teacher"],
        "loadavg": os.getloadavg(),
    }
    cached.write_text(json.dumps(result, indent=1))
    print(f"[twist] seed {job['seed']} {job['variant']}: held-out/teacher {result['ratio_heldout']:.2f}", flush=True)
    return result


def summarise(results: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    """JSON with every run, per-variant means and the IQM (95% CI) of the teacher-normalised held-out return."""
    from twist_agents.runner.results import iqm_with_ci, plot_iqm

    scores: dict[str, np.ndarray] = {}
    for variant in VARIANTS:
        rows = [r for r in results if r["variant"] == variant]
        if rows:
            norm = [np.asarray(r["returns"]["student_heldout"]) / np.mean(r["returns"]["teacher_state"]) for r in rows]
            scores[variant] = np.concatenate(norm)[:, None]  # (episodes of all seeds, 1 task)
    iqm = iqm_with_ci(scores)
    try:
        commit = subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    data = {
        "commit": commit,
        "runs": sorted(results, key=lambda r: (r["variant"], r["seed"])),
        "mean_ratio_heldout": {
            v: float(np.mean([r["ratio_heldout"] for r in results if r["variant"] == v])) for v in scores
        },
        "iqm_teacher_normalised_heldout": {
            v: {"iqm": r.iqm, "ci95": [r.ci_low, r.ci_high], "episodes": r.runs_per_task} for v, r in iqm.items()
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1))
    if iqm:
        plot_iqm(iqm, out.with_name("twist_iqm.png"))
    return data


def main() -> None:
    """Parse the command line, run the stages (resuming), write the JSON and the PNG."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="TWIST/CartpoleBalance-Distracting-v0")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {list(VARIANTS)}")
    p.add_argument("--dataset-steps", type=int, default=10_000, help="paired steps the teacher records per seed")
    p.add_argument("--distill-updates", type=int, default=0, help="student updates (0: the preset's)")
    p.add_argument("--teacher-steps", type=int, default=50_000, help="if no learning run: teacher steps")
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--jobs", type=int, default=2, help="parallel processes (1 torch thread each)")
    p.add_argument("--learning-runs", default="runs/learning", help="benchmarks/learning.py's --runs-dir")
    p.add_argument("--runs-dir", default="runs/twist_bench")
    p.add_argument("--out", type=Path, default=RESULTS / "twist.json")
    a = p.parse_args()
    variants = [v.strip() for v in a.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"twist.py: unknown variants {unknown}; choose from {list(VARIANTS)}")
    os.environ.setdefault("MUJOCO_GL", "egl")
    base = {
        "env": a.env,
        "preset": a.preset,
        "dataset_steps": a.dataset_steps,
        "distill_updates": a.distill_updates,
        "teacher_steps": a.teacher_steps,
        "eval_episodes": a.eval_episodes,
        "learning_runs": a.learning_runs,
        "runs_dir": str(Path(a.runs_dir) / a.env.replace("/", "_")),
    }
    seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    ctx = mp.get_context("spawn")
    with ctx.Pool(max(1, min(a.jobs, len(seeds))), maxtasksperchild=1) as pool:
        pool.map(_dataset_job, [{**base, "seed": s} for s in seeds])
    jobs = [{**base, "seed": s, "variant": v} for v in variants for s in seeds]
    results: list[dict[str, Any]] = []
    with ctx.Pool(max(1, min(a.jobs, len(jobs))), maxtasksperchild=1) as pool:
        for r in pool.imap_unordered(_variant_job, jobs):
            results.append(r)
            summarise(results, a.out)
    data = summarise(results, a.out)
    print(json.dumps({k: data[k] for k in ("mean_ratio_heldout", "iqm_teacher_normalised_heldout")}, indent=1))


if __name__ == "__main__":
    main()
