"""How well must a BlockPush policy know where the cube is? The teacher, on state, with the cube's position misread.

The distilled students read the cube's xy from pixels 6-13 cm off (``franka_distill_probe.py``), and the best
supervised read-out of the same encoder reaches 4-6 cm on held-out appearances (``franka_perception.py``); the
teacher's own latent knows it to 1-3 cm. This asks the converse: give the *teacher* (a finished run's Dreamer agent
on the privileged state) a cube position that is off by ``e`` cm, and measure its success. That bounds what any
student acting through the teacher's actor can reach at a given read-out error, whatever the distillation does.

Two error models, on the cube's x and y only (the rest of the state, its velocity included, is true):

* ``offset``: one displacement of exactly ``e`` cm in a random direction per episode, held for the whole episode: a
  biased read-out, like a student that misjudges the cube under an appearance (its errors persist over time);
* ``jitter``: independent Gaussian noise of root-mean-square ``e`` cm at every step: an unbiased but noisy
  read-out, which the teacher's recurrent filter can average.

Same protocol as ``franka_twist.teacher_state_success``: the training split's physics randomisation, reset seeds
50000.. (``EVAL_SEED``), the policy's mode; the env has ``obs_mode="state"`` (no rendering). Writes
``benchmarks/results/franka_cube_noise.json`` (an entry per teacher; a rerun replaces it)::

    MUJOCO_GL=egl OMP_NUM_THREADS=1 .venv/bin/python benchmarks/franka_cube_noise.py \\
        --teacher-run runs/franka_distill_probe/<grid>/teacher140m_s2 --errors-cm 0 2 4 6 10
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "franka_cube_noise.json"
ENV = "TWIST/BlockPush-Sim-v0"
MODES = ("offset", "jitter")


def misread_cube(env: Any, error_cm: float, mode: str, seed: int) -> Any:
    """``env`` (a Franka env whose observation is the flat state or a dict with ``"state"``) with the cube's xy in
    the observation misread by ``error_cm`` (``mode``: ``"offset"`` or ``"jitter"``, see the module docstring).

    Raises:
        ValueError: unknown ``mode`` or a negative ``error_cm``.
    """
    import gymnasium as gym

    from twist_envs.franka.sim import STATE_SLICES

    if mode not in MODES:
        raise ValueError(f"misread_cube: mode must be one of {MODES}, got {mode!r}")
    if not error_cm >= 0:
        raise ValueError(f"misread_cube: error_cm must be >= 0, got {error_cm}")
    xy = slice(STATE_SLICES["block_pos"].start, STATE_SLICES["block_pos"].start + 2)
    error_m = error_cm / 100.0

    class MisreadCube(gym.ObservationWrapper):
        def __init__(self, env: Any) -> None:
            super().__init__(env)
            self.rng = np.random.default_rng(seed)
            self.offset = np.zeros(2)

        def reset(self, **kwargs: Any) -> Any:
            angle = self.rng.uniform(0.0, 2.0 * np.pi)
            self.offset = error_m * np.array([np.cos(angle), np.sin(angle)])  # |offset| = e exactly
            return super().reset(**kwargs)

        def observation(self, obs: Any) -> Any:
            state = np.array(obs["state"] if isinstance(obs, dict) else obs, dtype=np.float32)  # (34,), a copy
            # jitter: per axis sigma = e / sqrt(2), so the xy error's root mean square is e.
            delta = self.offset if mode == "offset" else self.rng.normal(0.0, error_m / np.sqrt(2.0), 2)
            state[xy] += delta.astype(np.float32)
            return {**obs, "state": state} if isinstance(obs, dict) else state

    return MisreadCube(env)


def misread_success(teacher: Any, error_cm: float, mode: str, trials: int) -> dict[str, Any]:
    """Success and return of ``teacher`` over ``trials`` episodes with the cube misread (:func:`misread_cube`)."""
    from franka_twist import EVAL_SEED

    from twist_agents.training.evaluate import evaluate, make_eval_env

    env = misread_cube(make_eval_env(ENV, ("state",), split="train", obs_mode="state"), error_cm, mode, EVAL_SEED)
    try:
        res = evaluate(teacher, env, ("state",), episodes=trials, seed=EVAL_SEED, progress=False)
    finally:
        env.close()
    return {"success": float(np.mean(res.successes)), "mean_return": float(np.mean(res.returns))}


def main() -> None:
    """Evaluate the teacher of ``--teacher-run`` at each error and mode; write its entry."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher-run", type=Path, required=True, help="a TWIST run dir whose teacher/ is finished")
    p.add_argument("--errors-cm", type=float, nargs="+", default=[0.0, 2.0, 4.0, 6.0, 10.0])
    p.add_argument("--modes", nargs="+", default=list(MODES), help=f"any of {list(MODES)}")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args()
    bad = [m for m in a.modes if m not in MODES]
    if bad or a.trials < 1 or any(not e >= 0 for e in a.errors_cm):
        raise SystemExit(
            f"franka_cube_noise.py: --modes must be among {list(MODES)} (got {bad}), --trials >= 1, --errors-cm >= 0"
        )
    teacher_dir = a.teacher_run / "teacher"
    if not (teacher_dir / "DONE").exists():
        raise SystemExit(f"franka_cube_noise.py: {teacher_dir} is not a finished teacher; train it first")
    os.environ.setdefault("MUJOCO_GL", "egl")
    import torch

    from twist_agents.dreamer.agent import DreamerAgent
    from twist_agents.training.checkpoints import latest_checkpoint

    torch.set_num_threads(1)
    ckpt = latest_checkpoint(teacher_dir)
    if ckpt is None:
        raise SystemExit(f"franka_cube_noise.py: {teacher_dir} has no checkpoint")
    teacher = DreamerAgent.from_checkpoint(ckpt / "agent.pt")
    t0 = time.time()
    rows = [
        {"mode": mode, "error_cm": e, **misread_success(teacher, e, mode, a.trials)}
        for mode in a.modes
        for e in a.errors_cm
        if not (e == 0 and mode != a.modes[0])  # no error is the same whatever the mode: once
    ]
    summary = (
        json.loads((a.teacher_run / "summary.json").read_text()) if (a.teacher_run / "summary.json").exists() else {}
    )
    entry = {
        "command": f"benchmarks/franka_cube_noise.py --teacher-run {a.teacher_run} --errors-cm "
        + " ".join(f"{e:g}" for e in a.errors_cm)
        + f" --modes {' '.join(a.modes)} --trials {a.trials}",
        "teacher_env_steps": summary.get("teacher_env_steps"),
        "trials": a.trials,
        "rows": rows,
        "wall_s": round(time.time() - t0, 1),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out.with_suffix(".lock"), "w") as lock:  # two teachers finishing together: one writer at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = json.loads(a.out.read_text()) if a.out.exists() else {"note": __doc__.split("\n\n")[0], "runs": {}}
        doc["runs"][str(a.teacher_run)] = entry
        a.out.write_text(json.dumps(doc, indent=1))
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
