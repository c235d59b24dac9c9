"""Which dataset D and which distillation settings let the TWIST student act like its teacher? (cartpole probes)

Each run: record (or reuse) a dataset, distil a pixel student with ``DistillConfig`` overrides, and evaluate it
on held-out appearances (10 episodes, modes) after each of several update counts. Results are appended to
``benchmarks/results/twist_datasets.json`` (one row per run and update count); runs resume.

Datasets (``--dataset``):

* ``expert``: the teacher acting (exploring) in the train-randomised paired env, what ``twist demo`` records;
* ``pushes``: the same with held random actions (``--push-rate`` per 100 steps, ``--push-steps`` long), so D
  holds tilted and falling poles and the teacher's recoveries;
* ``history``: the teacher's own *training history* (the paper's D): the state-only episodes of a
  ``benchmarks/learning.py`` run (``--history``), with randomised pixels rendered from the stored states. Only
  for CartpoleBalance, whose observation determines the physics state (``qpos = (x, atan2(sin, cos))``,
  ``qvel = (x_dot, theta_dot)``).

Examples (the README's demo section quotes these runs)::

    MUJOCO_GL=egl .venv/bin/python benchmarks/twist_datasets.py --dataset expert --seed 0 \\
        --overrides '{"init_from_teacher": true}' --updates 500,1000,2000
    MUJOCO_GL=egl .venv/bin/python benchmarks/twist_datasets.py --dataset pushes --seed 1 --updates 1000,2000,3000
    MUJOCO_GL=egl .venv/bin/python benchmarks/twist_datasets.py --dataset history --seed 0 \\
        --history runs/learning/TWIST_CartpoleBalance-Distracting-v0_cpu_seed0 \\
        --overrides '{"init_from_teacher": true}' --updates 500,1000,2000
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

ENV = "TWIST/CartpoleBalance-Distracting-v0"
RESULTS = Path(__file__).resolve().parent / "results" / "twist_datasets.json"


def render_history(history_episodes: Path, out: Path, seed: int) -> None:
    """Store ``history_episodes`` (state only) again with train-randomised pixels rendered from each state."""
    import gymnasium as gym
    import mujoco

    import twist_envs  # noqa: F401 - registers the ids
    from twist_agents.data import EpisodeStore

    src, dst = EpisodeStore(history_episodes), EpisodeStore(out)
    env = gym.make(ENV, obs_mode="paired", randomization="train")
    u = env.unwrapped
    try:
        for i, path in enumerate(src.paths):
            if i < len(dst):
                continue  # resume
            ep = src.load(path)
            env.reset(seed=seed * 100_000 + i)  # draws the episode's appearance stream
            pixels = []
            for t, s in enumerate(ep["state"]):  # s = (x, cos, sin, x_dot, theta_dot), (5,)
                u.physics.data.qpos[:] = [s[0], np.arctan2(s[2], s[1])]
                u.physics.data.qvel[:] = [s[3], s[4]]
                mujoco.mj_forward(u.physics.model.ptr, u.physics.data.ptr)
                if t > 0:  # per-step randomisation, as in the train env's step()
                    u.randomizer.on_step(u.mujoco_scene, u._dr_rng)
                pixels.append(u._render())
            dst.add({**{k: ep[k] for k in ep}, "pixels": np.stack(pixels)})
    finally:
        env.close()


def main() -> None:
    """Parse the command line, build D, distil, evaluate after each update count, append to the JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("expert", "pushes", "history"), default="expert")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--teacher", default="", help="teacher checkpoint (default: the shipped cartpole teacher)")
    p.add_argument("--steps", type=int, default=10_000, help="dataset steps (expert, pushes)")
    p.add_argument("--push-rate", type=float, default=3.0, help="pushes per 100 steps")
    p.add_argument("--push-steps", default="3,15", help="push length range, inclusive")
    p.add_argument("--history", default="", help="a benchmarks/learning.py run directory (dataset=history)")
    p.add_argument("--overrides", default="{}", help="DistillConfig overrides as JSON")
    p.add_argument("--updates", default="500,1000", help="evaluate after these update counts")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--runs-dir", default="runs/twist_datasets")
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args()

    import torch

    torch.set_num_threads(1)
    from twist_agents.dreamer import DreamerAgent
    from twist_agents.training.envs import make_env
    from twist_agents.training.evaluate import episode_returns
    from twist_agents.twist.config import distill_config
    from twist_agents.twist.pipeline import collect_dataset, distil, shipped_teacher

    overrides = json.loads(a.overrides)
    tag = f"{a.dataset}_s{a.seed}_" + "_".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    if a.dataset != "history" and a.steps != 10_000:  # the default size keeps the tags of the earlier rows
        tag += f"_steps={a.steps}"
    run = Path(a.runs_dir) / tag
    teacher = DreamerAgent.from_checkpoint(a.teacher or shipped_teacher(ENV, "cpu"))
    t0 = time.time()
    if a.dataset == "history":
        if not a.history:
            p.error("--dataset history needs --history RUN_DIR")
        render_history(Path(a.history) / "episodes", run / "episodes", a.seed)
    else:
        lo, hi = (int(x) for x in a.push_steps.split(","))
        rate = a.push_rate if a.dataset == "pushes" else 0.0
        collect_dataset(teacher, ENV, run / "episodes", a.steps, a.seed, progress=False, push_rate=rate,
                        push_steps=(lo, hi))  # fmt: skip
    dataset_s = time.time() - t0
    rows = json.loads(a.out.read_text()) if a.out.exists() else []
    for updates in (int(x) for x in a.updates.split(",")):
        if any(r["tag"] == tag and r["updates"] == updates for r in rows):
            continue
        t0 = time.time()
        cfg = distill_config("cpu", **{**overrides, "updates": updates})
        agent = distil(teacher, run / "episodes", run / "student", cfg, a.seed, resume=True, progress=False)
        distill_s = time.time() - t0
        env = make_env(ENV, 1000, obs_mode="pixels", randomization="test")
        try:
            returns = episode_returns(agent, env, a.episodes, 1000)
        finally:
            env.close()
        row: dict[str, Any] = {
            "tag": tag,
            "dataset": a.dataset,
            "seed": a.seed,
            "overrides": overrides,
            "updates": updates,
            "heldout_returns": returns,
            "heldout_mean": float(np.mean(returns)),
            "dataset_s": dataset_s,
            "distill_s_since_last": distill_s,
            "loadavg": os.getloadavg(),
        }
        rows.append(row)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(rows, indent=1))
        print(f"[twist_datasets] {tag} {updates} updates: held-out {row['heldout_mean']:.0f}", flush=True)


if __name__ == "__main__":
    main()
