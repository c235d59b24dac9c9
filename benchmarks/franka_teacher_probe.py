"""Why the Franka state teacher does not learn BlockPush: one lever at a time, on the state-only Oracle.

The TWIST teacher of ``franka_twist.py`` is a Dreamer on the privileged state; at the ``cpu`` preset it scores 0/20
on BlockPush after 25 minutes (72.8k env steps), and more of the same training does not change that. This probe
trains the same agent (``oracle``, ``obs_mode="state"``, the paper's physics randomisation ``randomization="train"``)
with one change each, under a wall-clock budget, and scores it as ``franka_twist.py`` scores a teacher: 20 trials
with the policy's mode, reset seeds 50000.., ``info["success"]`` at the last step.

Variants (``--variant``):

* ``plain``: the ``cpu`` preset unchanged (the lever is then the env itself, e.g. its reward version).
* ``ratio512``: ``train_ratio`` 512 instead of 128: one update (16 x 64 replayed steps) per 2 env steps, 4x the
  updates per env step, at about a third of the env steps per wall-clock second.
* ``demo-prefill``: the prefill is 4500 steps (30 episodes) instead of 1000, and half of its episodes are driven
  by the env's scripted controller plus N(0, 0.3) action noise (``LoopConfig.prefill_expert=0.5``; that controller
  solves 20/20 at this noise): demonstrations in the replay, the agent still learns only from rewards. Not in the
  paper.
* ``size256``: a teacher sized for the 34-dim manipulation state instead of the cartpole-sized ``cpu`` nets:
  256-unit RSSM (16 x 16 latents), 2 x 256 encoder/decoder/reward MLPs, 256-unit actor and critic.

Each run adds (or replaces) its entry in ``benchmarks/results/franka_teacher_probe.json`` under
``<variant>_<task>_<reward version>_seed<N>`` (``twist_envs.franka.tasks.REWARD_VERSION``; the runs dir is kept
per reward version too, so a run is never resumed under another reward); rerunning the same command resumes the
run and re-scores it::

    MUJOCO_GL=egl LP_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/franka_teacher_probe.py \\
        --variant demo-prefill --seed 0 --budget-minutes 25

(2 such processes side by side on the 2-core machine, one torch thread each, is how the JSON's runs were made.)

``--rescore KEY RUN_DIR`` scores an existing run without training and adds to entry ``KEY`` the reward-free
measurements (success, ``push_progress_cm``, ``closest_approach_cm``) and the return under the current reward
(``mean_return_20_reward_<version>``), so that runs trained under an earlier reward version compare like for like.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "franka_teacher_probe.json"
EVAL_SEED = 50_000
"""First reset seed of the 20 trials, as in ``franka_twist.py``."""
VARIANTS = ("plain", "ratio512", "demo-prefill", "size256")


def variant_settings(variant: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The loop overrides and the agent overrides of ``variant`` (see the module docstring)."""
    if variant == "plain":
        return {}, None
    if variant == "ratio512":
        return {"train_ratio": 512.0}, None
    if variant == "demo-prefill":
        return {"prefill": 4500, "prefill_expert": 0.5, "prefill_expert_noise": 0.3}, None
    if variant == "size256":
        from twist_agents.dreamer.config import DecoderConfig, EncoderConfig, HeadConfig, RSSMConfig

        u = 256
        return {}, {
            "world_model": {
                "rssm": RSSMConfig(deter=u, stoch=16, classes=16, hidden=u),
                "encoder": EncoderConfig(mlp_layers=2, mlp_units=u, cnn_depth=16),
                "decoder": DecoderConfig(mlp_layers=2, mlp_units=u, cnn_depth=16),
                "reward_head": HeadConfig(layers=2, units=u, bins=63),
                "cont_head": HeadConfig(layers=1, units=u),
            },
            "behavior": {"actor_units": u, "critic_units": u},
        }
    raise SystemExit(f"franka_teacher_probe.py: unknown variant {variant!r}; choose one of {VARIANTS}")


def update_entry(out: Path, key: str, fields: dict[str, Any], replace: bool = False) -> None:
    """Merge ``fields`` into entry ``key`` of the JSON at ``out`` (``replace``: make them the whole entry), under a
    lock: two seeds run side by side and finish at the same moment."""
    import fcntl

    from twist_agents.data.atomic import atomic_write_text

    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = json.loads(out.read_text()) if out.exists() else {"runs": {}}
        doc["runs"][key] = {**({} if replace else doc["runs"].get(key, {})), **fields}
        atomic_write_text(out, json.dumps(doc, indent=1))


def score(agent: Any, env_id: str, task: str, trials: int = 20) -> dict[str, float]:
    """``trials`` episodes of ``agent``'s mode on state (train-split physics), reset seeds ``EVAL_SEED``...

    Besides success and return (which depends on the reward version) it measures what the policy does to the cube,
    the same under every reward: for push how much closer to the goal the cube ends (``push_progress_cm``, the
    initial minus the final cube-goal distance), for lift how high the cube ends (``lift_height_cm``); and how close
    the tool tip ever gets to the cube's centre (``closest_approach_cm``).
    """
    import numpy as np

    from twist_agents.training.evaluate import make_eval_env

    env = make_eval_env(env_id, ("state",), split="train")
    successes, returns, progress, closest = [], [], [], []
    try:
        for i in range(trials):
            obs, info = env.reset(seed=EVAL_SEED + i)
            start, goal = info["block_pos"].copy(), info["goal_pos"]
            state, total, near, done = None, 0.0, np.inf, False
            while not done:
                action, state = agent.act({"state": obs["state"]}, state, False)
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                near = min(near, float(np.linalg.norm(info["ee_pos"] - info["block_pos"])))
                done = terminated or truncated
            end = info["block_pos"]
            if task == "push":
                progress.append(float(np.linalg.norm(start[:2] - goal[:2]) - np.linalg.norm(end[:2] - goal[:2])))
            else:
                progress.append(float(end[2] - start[2]))
            successes.append(float(info["success"]))
            returns.append(total)
            closest.append(near)
    finally:
        env.close()
    return {
        "success_20": float(np.mean(successes)),
        "mean_return_20": float(np.mean(returns)),
        f"{task}_{'progress' if task == 'push' else 'height'}_cm": round(100 * float(np.mean(progress)), 2),
        "closest_approach_cm": round(100 * float(np.mean(closest)), 2),
    }


def main() -> None:
    """Train (resuming), score 20 trials, write the JSON entry."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", choices=VARIANTS, help="required unless --rescore")
    p.add_argument("--task", default="push", choices=("push", "lift"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget-minutes", type=float, default=25.0)
    p.add_argument("--runs-dir", type=Path, default=Path("runs/franka_probe"))
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--rescore", nargs=2, metavar=("KEY", "RUN_DIR"), help="score a run only (see above)")
    a = p.parse_args()
    if a.rescore:
        key, run_dir = a.rescore
        known = a.out.exists() and key in json.loads(a.out.read_text())["runs"]
        if not known or not Path(run_dir, "config.json").exists():
            raise SystemExit(f"franka_teacher_probe.py: no entry {key!r} in {a.out} or no run in {run_dir}")
        os.environ.setdefault("MUJOCO_GL", "egl")
        from twist_agents.runner.dreamer_runs import load_dreamer_run
        from twist_envs.franka.tasks import REWARD_VERSION

        scores = score(load_dreamer_run(Path(run_dir)), f"TWIST/Block{a.task.capitalize()}-Sim-v0", a.task)
        # The return under the current reward version, beside (not instead of) the one the run trained under.
        scores[f"mean_return_20_reward_{REWARD_VERSION}"] = scores.pop("mean_return_20")
        update_entry(a.out, key, scores)
        print(key, scores, flush=True)
        return
    if a.variant is None:
        raise SystemExit(f"franka_teacher_probe.py: --variant is required (one of {VARIANTS}) unless --rescore")
    if not a.budget_minutes > 0:
        raise SystemExit("franka_teacher_probe.py: --budget-minutes must be positive")
    os.environ.setdefault("MUJOCO_GL", "egl")
    import numpy as np
    import torch
    from learning import eval_curve  # this folder's reader of a run's in-loop evaluations (resumes handled)

    from twist_agents.data import EpisodeStore
    from twist_agents.dreamer.trainer import train_dreamer
    from twist_agents.runner.dreamer_runs import load_dreamer_run
    from twist_envs.franka.sim import readout_from_state
    from twist_envs.franka.tasks import REWARD_VERSION, make_task

    torch.set_num_threads(1)
    env_id = f"TWIST/Block{a.task.capitalize()}-Sim-v0"
    loop_overrides, agent_overrides = variant_settings(a.variant)
    run = a.runs_dir / f"reward-{REWARD_VERSION}" / f"{a.variant}_{a.task}_s{a.seed}"
    summary = train_dreamer(
        env_id,
        agent="oracle",
        preset="cpu",
        seed=a.seed,
        run_dir=run,
        resume=run.exists(),
        env_kwargs={"obs_mode": "state", "randomization": "train"},
        loop_overrides={**loop_overrides, "budget_s": a.budget_minutes * 60, "steps": 10**8, "progress": False},
        agent_overrides=agent_overrides,
    )
    scores = score(load_dreamer_run(run), env_id, a.task)
    store = EpisodeStore(run / "episodes")
    returns = [float(np.sum(ep["reward"])) for ep in store]
    solved = [bool(make_task(a.task).success(readout_from_state(ep["state"][-1]))) for ep in store]
    entry = {
        "command": f"benchmarks/franka_teacher_probe.py --variant {a.variant} --task {a.task} --seed {a.seed} "
        f"--budget-minutes {a.budget_minutes:g}",
        "reward_version": REWARD_VERSION,
        "loop_overrides": loop_overrides,
        "agent_overrides": json.loads(json.dumps(agent_overrides, default=lambda o: o.__dict__)),
        "env_steps": summary["env_steps"],
        "train_s": summary["train_s"],
        **scores,
        "training_episodes": len(returns),
        "training_episodes_solved": int(sum(solved)),
        "eval_curve": [[s, round(r, 2)] for s, r in zip(*eval_curve(run)[:2], strict=True)],
    }
    update_entry(a.out, f"{a.variant}_{a.task}_{REWARD_VERSION}_seed{a.seed}", entry, replace=True)
    print(json.dumps({k: v for k, v in entry.items() if k != "eval_curve"}), flush=True)


if __name__ == "__main__":
    main()
