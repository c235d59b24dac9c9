"""Env throughput: our paired, train-randomised envs vs a bare dm_control loop, side by side in one run.

The bare loop does the same physics (action_repeat=2 control steps) and one ``physics.render`` of the same size
per env step with dm_control's default settings: the floor our wrapper adds its cost to. Both are timed in
alternating rounds so machine load hits both alike. Writes benchmarks/results/envs.json.

Run:  MUJOCO_GL=egl .venv/bin/python benchmarks/envs.py [--steps 300] [--rounds 3]
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np
from dm_control import suite

import twist_envs
from twist_envs.distracting.env import TASKS


def ours(env_id: str, steps: int, **kw) -> float:
    env = gym.make(env_id, **kw)
    env.reset(seed=0)
    a = env.action_space.sample()
    t = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
    rate = steps / (time.perf_counter() - t)
    env.close()
    return rate


def bare(domain: str, task: str, steps: int, size: int = 64) -> float:
    e = suite.load(domain, task, task_kwargs={"random": 0})
    e.reset()
    a = np.zeros(e.action_spec().shape)
    e.physics.render(size, size, camera_id=0)  # warm the GL context up outside the timing
    t = time.perf_counter()
    for _ in range(steps):
        for _ in range(2):
            ts = e.step(a)
        e.physics.render(size, size, camera_id=0)
        if ts.last():
            e.reset()
    return steps / (time.perf_counter() - t)


def bare_franka(task: str, steps: int, size: int = 64) -> float:
    """The Franka floor: the same control step (DLS IK + physics) and one render, no env/wrapper/randomisation."""
    from twist_envs.franka.scene import FrankaPhysics

    p = FrankaPhysics(task)
    p.home()
    p.place(np.array([0.5, 0.0]), np.array([0.6, 0.1]))
    deltas = np.random.default_rng(0).uniform(-0.02, 0.02, (steps, 3))
    p.render(size)
    t = time.perf_counter()
    for d in deltas:
        p.move_ee(d, 0.0)
        p.render(size)
    rate = steps / (time.perf_counter() - t)
    p.close()
    return rate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "envs.json"))
    args = p.parse_args()
    rows = {}
    for env_id in twist_envs.DISTRACTING_IDS:
        spec = TASKS[env_id.split("/")[1].split("-")[0]]
        o, b, s = [], [], []
        for _ in range(args.rounds):
            o.append(ours(env_id, args.steps))
            s.append(ours(env_id, args.steps, obs_mode="state", randomization="none"))
            b.append(bare(spec.domain, spec.task, args.steps))
        rows[env_id] = {
            "ours_paired_train_steps_per_s": float(np.median(o)),
            "bare_dm_control_render_steps_per_s": float(np.median(b)),
            "ratio": float(np.median(o) / np.median(b)),
            "ours_state_only_steps_per_s": float(np.median(s)),
        }
        print(
            f"{env_id}: ours {rows[env_id]['ours_paired_train_steps_per_s']:.0f}/s, bare "
            f"{rows[env_id]['bare_dm_control_render_steps_per_s']:.0f}/s, ratio {rows[env_id]['ratio']:.2f}, "
            f"state-only {rows[env_id]['ours_state_only_steps_per_s']:.0f}/s"
        )
    # Franka sim ids (issue 5): the floor is our own scene stepped and rendered without the env around it.
    for env_id, task in (("TWIST/BlockPush-Sim-v0", "push"), ("TWIST/BlockLift-Sim-v0", "lift")):
        o = [ours(env_id, args.steps) for _ in range(args.rounds)]
        b = [bare_franka(task, args.steps) for _ in range(args.rounds)]
        mo, mb = float(np.median(o)), float(np.median(b))
        rows[env_id] = {"ours_paired_train_steps_per_s": mo, "bare_scene_steps_per_s": mb, "ratio": mo / mb}
        print(f"{env_id}: ours {mo:.0f}/s, bare scene {mb:.0f}/s, ratio {mo / mb:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    result = {
        "what": "env steps/s at 64x64, median over rounds; ours = obs_mode paired, randomization train; Distracting: "
        "action_repeat 2 vs a bare dm_control loop with physics.render; "
        "Franka: vs the bare scene (IK + physics + render)",
        "load_avg": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "MUJOCO_GL": os.environ["MUJOCO_GL"]},
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "tasks": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
