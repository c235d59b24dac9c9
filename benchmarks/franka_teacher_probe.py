"""Why the Franka state teacher does not learn BlockPush: one lever at a time, on the state-only Oracle.

The TWIST teacher of ``franka_twist.py`` is a Dreamer on the privileged state; at the ``cpu`` preset it scores 0/20
on BlockPush after 25 minutes (72.8k env steps), and more of the same training does not change that. This probe
trains the same agent (``oracle``, ``obs_mode="state"``, the paper's physics randomisation ``randomization="train"``)
with one change each, under a wall-clock budget, and scores it as ``franka_twist.py`` scores a teacher: 20 trials
with the policy's mode, reset seeds 50000.., ``info["success"]`` at the last step.

Variants (``--variant``):

* ``demo-prefill``: the prefill is 4500 steps (30 episodes) instead of 1000, and half of its episodes are driven
  by the env's scripted controller plus N(0, 0.3) action noise (``LoopConfig.prefill_expert=0.5``; that controller
  solves 20/20 at this noise): demonstrations in the replay, the agent still learns only from rewards. Not in the
  paper.
* ``size256``: a teacher sized for the 34-dim manipulation state instead of the cartpole-sized ``cpu`` nets:
  256-unit RSSM (16 x 16 latents), 2 x 256 encoder/decoder/reward MLPs, 256-unit actor and critic.

Each run adds (or replaces) its entry in ``benchmarks/results/franka_teacher_probe.json`` under
``<variant>_seed<N>``; rerunning the same command resumes the run and re-scores it::

    MUJOCO_GL=egl LP_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/franka_teacher_probe.py \\
        --variant demo-prefill --seed 0 --budget-minutes 25

(2 such processes side by side on the 2-core machine, one torch thread each, is how the JSON's runs were made.)
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
VARIANTS = ("demo-prefill", "size256")


def variant_settings(variant: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The loop overrides and the agent overrides of ``variant`` (see the module docstring)."""
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


def main() -> None:
    """Train (resuming), score 20 trials, write the JSON entry."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", required=True, choices=VARIANTS)
    p.add_argument("--task", default="push", choices=("push", "lift"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget-minutes", type=float, default=25.0)
    p.add_argument("--runs-dir", type=Path, default=Path("runs/franka_probe"))
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args()
    if not a.budget_minutes > 0:
        raise SystemExit("franka_teacher_probe.py: --budget-minutes must be positive")
    os.environ.setdefault("MUJOCO_GL", "egl")
    import numpy as np
    import torch
    from learning import eval_curve  # this folder's reader of a run's in-loop evaluations (resumes handled)

    from twist_agents.data import EpisodeStore
    from twist_agents.dreamer.trainer import train_dreamer
    from twist_agents.runner.dreamer_runs import load_dreamer_run
    from twist_agents.training.evaluate import evaluate, make_eval_env

    torch.set_num_threads(1)
    env_id = f"TWIST/Block{a.task.capitalize()}-Sim-v0"
    loop_overrides, agent_overrides = variant_settings(a.variant)
    run = a.runs_dir / f"{a.variant}_{a.task}_s{a.seed}"
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
    agent = load_dreamer_run(run)
    env = make_eval_env(env_id, ("state",), split="train")
    try:
        res = evaluate(agent, env, ("state",), episodes=20, seed=EVAL_SEED, progress=False)
    finally:
        env.close()
    store = EpisodeStore(run / "episodes")
    returns = [float(np.sum(ep["reward"])) for ep in store]
    entry = {
        "command": f"benchmarks/franka_teacher_probe.py --variant {a.variant} --task {a.task} --seed {a.seed} "
        f"--budget-minutes {a.budget_minutes:g}",
        "loop_overrides": loop_overrides,
        "agent_overrides": json.loads(json.dumps(agent_overrides, default=lambda o: o.__dict__)),
        "env_steps": summary["env_steps"],
        "train_s": summary["train_s"],
        "success_20": float(np.mean(res.successes)),
        "mean_return_20": float(np.mean(res.returns)),
        "training_episodes": len(returns),
        "training_episodes_return_over_50": int(sum(r > 50 for r in returns)),
        "eval_curve": [[s, round(r, 2)] for s, r in zip(*eval_curve(run)[:2], strict=True)],
    }
    doc = json.loads(a.out.read_text()) if a.out.exists() else {"runs": {}}
    doc["runs"][f"{a.variant}_{a.task}_seed{a.seed}"] = entry
    a.out.write_text(json.dumps(doc, indent=1))
    print(json.dumps({k: v for k, v in entry.items() if k != "eval_curve"}), flush=True)


if __name__ == "__main__":
    main()
