"""Throughput of the Franka sim envs: env steps per second, paired observations, training randomisation.

Also measures, in the same run, the parts an env step is made of (one control step of physics + IK, one
64 px render) and the env without randomisation or without images, so the cost of each layer is visible.

    MUJOCO_GL=egl .venv/bin/python benchmarks/franka_envs.py [--steps 300] [--repeats 3]

Writes benchmarks/results/franka_envs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np

import twist_envs  # noqa: F401
from twist_envs.franka.scene import FrankaPhysics

IDS = {"push": "TWIST/BlockPush-Sim-v0", "lift": "TWIST/BlockLift-Sim-v0"}


def env_rate(env_id: str, steps: int, **kwargs: object) -> float:
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]
    for a in actions[:10]:  # warm-up: first render, caches
        env.step(a)
    t = time.perf_counter()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    rate = steps / (time.perf_counter() - t)
    env.close()
    return rate


def parts_rate(task: str, steps: int) -> tuple[float, float]:
    """(control steps/s of physics + IK alone, 64 px renders/s alone) on the bare scene."""
    p = FrankaPhysics(task)
    p.home()
    p.place(np.array([0.5, 0.0]), np.array([0.6, 0.1]))
    rng = np.random.default_rng(0)
    deltas = rng.uniform(-0.02, 0.02, (steps, 3))
    t = time.perf_counter()
    for d in deltas:
        p.move_ee(d, 0.0)
    physics = steps / (time.perf_counter() - t)
    p.render(64)
    t = time.perf_counter()
    for _ in range(steps):
        p.render(64)
    render = steps / (time.perf_counter() - t)
    p.close()
    return physics, render


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, object] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}",
        "steps": args.steps,
        "repeats": args.repeats,
        "statistic": "median over repeats",
        "tasks": {},
    }
    for task, env_id in IDS.items():
        rows: dict[str, list[float]] = {
            k: [] for k in ("paired_train", "paired_none", "state_train", "physics_ik", "render64")
        }
        for _ in range(args.repeats):
            rows["paired_train"].append(env_rate(env_id, args.steps, obs_mode="paired", randomization="train"))
            rows["paired_none"].append(env_rate(env_id, args.steps, obs_mode="paired", randomization="none"))
            rows["state_train"].append(env_rate(env_id, args.steps, obs_mode="state", randomization="train"))
            phys, rend = parts_rate(task, args.steps)
            rows["physics_ik"].append(phys)
            rows["render64"].append(rend)
        med = {k: float(np.median(v)) for k, v in rows.items()}
        results["tasks"][env_id] = {  # type: ignore[index]
            "env_steps_per_s_paired_train": med["paired_train"],
            "env_steps_per_s_paired_none": med["paired_none"],
            "env_steps_per_s_state_train": med["state_train"],
            "control_steps_per_s_physics_ik_only": med["physics_ik"],
            "renders_per_s_64px_only": med["render64"],
            "all_runs": rows,
        }
        print(
            f"{env_id}: paired+train {med['paired_train']:.0f}/s, paired+none {med['paired_none']:.0f}/s, "
            f"state+train {med['state_train']:.0f}/s | physics+IK {med['physics_ik']:.0f}/s, "
            f"render {med['render64']:.0f}/s"
        )
    out = Path(__file__).parent / "results" / "franka_envs.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
