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
* ``standardize``: the ``cpu`` preset with ``WorldModelConfig.standardize_vectors``: every state dimension
  standardised by statistics of the first training batch before the encoder's symlog and as the decoder's target.
  Symlog alone leaves the cube's position (it moves by centimetres, i.e. 0.0x in metres) a reconstruction loss of
  ~1e-4, and the ``plain`` teachers' world models do not encode it: the posterior reconstruction of the cube's x
  has R^2 -0.3 (the goal's x 0.93, joint velocities > 0.99).
* ``size256``: a teacher sized for the 34-dim manipulation state instead of the cartpole-sized ``cpu`` nets:
  256-unit RSSM (16 x 16 latents), 2 x 256 encoder/decoder/reward MLPs, 256-unit actor and critic.
* ``reflex``: the training env ends an episode when the contact force on the robot exceeds the real arm's reflex
  threshold (``contact_force_limit=REFLEX_FORCE_N``, 30 N), as the real env's session stops there. The TWIST
  teachers trained without it press the block into the table: seed 1 of ``franka_twist.py`` succeeds in 15/20
  trials but crosses 30 N in 15/20, and only 4/20 succeed without crossing it.

Variants combine with ``+`` (``--variant standardize+demo-prefill``: both sets of overrides).

Each run adds (or replaces) its entry in ``benchmarks/results/franka_teacher_probe.json`` under
``<variant>_<task>_<reward version>_seed<N>`` (``twist_envs.franka.tasks.REWARD_VERSION``; the runs dir is kept
per reward version too, so a run is never resumed under another reward); rerunning the same command resumes the
run and re-scores it::

    MUJOCO_GL=egl LP_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/franka_teacher_probe.py \\
        --variant demo-prefill --seed 0 --budget-minutes 25

(2 such processes side by side on the 2-core machine, one torch thread each, is how the JSON's runs were made.)

``--plot [--task T]`` draws every entry's in-loop evaluation curve under the current reward, with the scripted
controller's and a zero action's return on the scoring trials, into ``franka_teacher_probe_<task>_curves.png``.

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
VARIANTS = ("plain", "ratio512", "demo-prefill", "size256", "standardize", "reflex")


def variant_settings(variant: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The loop overrides and the agent overrides of ``variant``: one of :data:`VARIANTS` or several joined by
    ``+`` (``standardize+demo-prefill``), whose overrides are merged (see the module docstring)."""
    loop: dict[str, Any] = {}
    agent: dict[str, dict[str, Any]] = {}
    for part in variant.split("+"):
        part_loop, part_agent = _one_variant(part)
        loop.update(part_loop)
        for section, fields in (part_agent or {}).items():
            agent.setdefault(section, {}).update(fields)
    return loop, agent or None


def variant_env_kwargs(variant: str) -> dict[str, Any]:
    """The training env's keywords of ``variant`` beyond ``obs_mode`` and ``randomization``."""
    from twist_envs.franka.scene import REFLEX_FORCE_N

    return {"contact_force_limit": REFLEX_FORCE_N} if "reflex" in variant.split("+") else {}


def _one_variant(variant: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
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
    if variant == "standardize":
        return {}, {"world_model": {"standardize_vectors": True}}
    if variant == "reflex":
        return {}, None  # an env setting: variant_env_kwargs
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

    Besides success and return (which depends on the reward version) it measures, the same under every reward,
    what the policy does to the cube: for push how much closer to the goal the cube ends (``push_progress_cm``, the
    initial minus the final cube-goal distance), for lift how high the cube ends (``lift_height_cm``); and how close
    the tool tip ever gets to the cube's centre (``closest_approach_cm``). And how well the world model tracks and
    predicts the cube and the tool tip (:func:`model_fit`), on these episodes and on 5 of the scripted
    controller's (keys ending ``_scripted``, where the cube moves). The scoring env has no contact-force limit; the
    episodes whose contact force on the robot crossed the real arm's reflex threshold are counted
    (``over_reflex_20``), and ``success_20_under_reflex`` counts a success only if it did not cross it.
    """
    import numpy as np

    from twist_agents.training.evaluate import make_eval_env
    from twist_envs.franka.scene import REFLEX_FORCE_N

    env = make_eval_env(env_id, ("state",), split="train")
    successes, returns, progress, closest, episodes, peak_force = [], [], [], [], [], []
    try:
        for i in range(trials):
            obs, info = env.reset(seed=EVAL_SEED + i)
            start, goal = info["block_pos"].copy(), info["goal_pos"]
            state, total, near, force, done = None, 0.0, np.inf, 0.0, False
            states, actions = [obs["state"]], [np.zeros(env.action_space.shape, np.float32)]
            while not done:
                action, state = agent.act({"state": obs["state"]}, state, False)
                obs, reward, terminated, truncated, info = env.step(action)
                states.append(obs["state"])
                actions.append(agent.normalize_action(action))
                total += float(reward)
                near = min(near, float(np.linalg.norm(info["ee_pos"] - info["block_pos"])))
                force = max(force, float(info["contact_force"]))
                done = terminated or truncated
            end = info["block_pos"]
            if task == "push":
                progress.append(float(np.linalg.norm(start[:2] - goal[:2]) - np.linalg.norm(end[:2] - goal[:2])))
            else:
                progress.append(float(end[2] - start[2]))
            successes.append(float(info["success"]))
            returns.append(total)
            closest.append(near)
            peak_force.append(force)
            episodes.append((np.stack(states), np.stack(actions)))
    finally:
        env.close()
    return {
        "success_20": float(np.mean(successes)),
        "mean_return_20": float(np.mean(returns)),
        "over_reflex_20": int(sum(f > REFLEX_FORCE_N for f in peak_force)),
        "success_20_under_reflex": float(
            np.mean([s and f <= REFLEX_FORCE_N for s, f in zip(successes, peak_force, strict=True)])
        ),
        f"{task}_{'progress' if task == 'push' else 'height'}_cm": round(100 * float(np.mean(progress)), 2),
        "closest_approach_cm": round(100 * float(np.mean(closest)), 2),
        **model_fit(agent, episodes),
        **{f"{k}_scripted": v for k, v in model_fit(agent, [ep[:2] for ep in scripted_episodes(env_id, 5)]).items()},
    }


def scripted_episodes(env_id: str, n: int, policy: str = "scripted") -> list[tuple[Any, Any, float]]:
    """``n`` episodes of the env's scripted controller (or, ``policy="zero"``, of a zero action) on the scoring
    trials (reset seeds ``EVAL_SEED``..., state, train-split physics): ``(states, actions, return)`` each, with
    states and actions as :func:`model_fit` reads them. The cube moves in the scripted ones, so the model's
    predictions of them measure whether it learned what a push (or a grasp) does, which the policy's own episodes,
    where the cube stays put, cannot."""
    import numpy as np

    from twist_agents.training.evaluate import make_eval_env

    env = make_eval_env(env_id, ("state",), split="train")
    zero = np.zeros(env.action_space.shape, np.float32)
    episodes = []
    try:
        for i in range(n):
            obs, _ = env.reset(seed=EVAL_SEED + i)
            states, actions, total, done = [obs["state"]], [zero], 0.0, False
            while not done:
                action = np.asarray(env.unwrapped.expert_action() if policy == "scripted" else zero, np.float32)
                obs, reward, terminated, truncated, _ = env.step(action)
                states.append(obs["state"])
                actions.append(action)
                total, done = total + float(reward), terminated or truncated
            episodes.append((np.stack(states), np.stack(actions), total))
    finally:
        env.close()
    return episodes


def model_fit(agent: Any, episodes: list[tuple[Any, Any]], horizon: int = 15) -> dict[str, float]:
    """How well the world model knows where the cube and the tool tip are, on the scored episodes.

    ``episodes``: ``(states (T+1, 34), actions (T+1, A))`` with ``actions[t]`` the normalised action that led to
    ``states[t]`` (zeros at t=0). For the cube's x and y (``block_pos``) and the tool tip's (``ee_pos``): the R^2 of
    the decoded posterior (the model's reading of the current state) and of a ``horizon``-step open-loop imagination
    of the taken actions from every 10th step (its prediction), against the true positions; R^2 over the episodes'
    positions, so 0 is "no better than the mean position", and the root-mean-square xy error in cm.
    """
    import numpy as np
    import torch

    from twist_envs.franka.sim import STATE_SLICES

    dims = {
        part: [STATE_SLICES[key].start, STATE_SLICES[key].start + 1]
        for part, key in (("cube_xy", "block_pos"), ("tip_xy", "ee_pos"))
    }
    wm = agent.world_model
    post_pred, open_pred, post_true, open_true = [], [], [], []
    with torch.no_grad():
        for states, actions in episodes:
            b = wm.to_torch({"state": states[None], "action": actions[None]})
            first = torch.zeros(b["state"].shape[:2], dtype=torch.bool)
            first[:, 0] = True
            post, _ = wm.rssm.observe(wm.encoder({"state": b["state"]}), b["action"].float(), first, sample=False)
            decoder = wm.heads["decoder"]
            post_pred.append(decoder.reconstruct(wm.rssm.get_feat(post))["state"][0].numpy())
            post_true.append(states)
            for t in range(0, len(states) - horizon, 10):
                start = {k: v[:, t] for k, v in post.items()}
                imagined, _ = wm.rssm.imagine(start, b["action"][:, t + 1 : t + 1 + horizon].float(), horizon, False)
                end = {k: v[:, -1] for k, v in imagined.items()}
                open_pred.append(decoder.reconstruct(wm.rssm.get_feat(end))["state"][0].numpy())
                open_true.append(states[t + horizon])
    out = {}
    for label, pred, true in (
        ("posterior", np.concatenate(post_pred), np.concatenate(post_true)),
        (f"open_loop{horizon}", np.stack(open_pred), np.stack(open_true)),
    ):
        for name, idx in dims.items():
            err = ((pred[:, idx] - true[:, idx]) ** 2).sum()
            var = ((true[:, idx] - true[:, idx].mean(0)) ** 2).sum()
            out[f"r2_{name}_{label}"] = round(float(1.0 - err / var), 3)
            out[f"{name}_error_cm_{label}"] = round(100 * float(np.sqrt(err / len(true))), 2)
    return out


def reference_returns(env_id: str, trials: int = 20) -> dict[str, float]:
    """Mean return of the env's scripted controller and of a zero action on the scoring trials, under the current
    reward."""
    import numpy as np

    return {
        name: round(float(np.mean([ep[2] for ep in scripted_episodes(env_id, trials, name)])), 1)
        for name in ("scripted", "zero")
    }


def plot_curves(
    doc: dict[str, Any], out: Path, task: str = "push", reward: str = "v3", references: dict[str, float] | None = None
) -> Path:
    """The in-loop evaluation curves (mean return of the policy's mode) of every ``<variant>_<task>_<reward>_seedN``
    entry, one colour per variant, one line per seed, with ``references`` (name -> return) as horizontal lines;
    PNG at ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    colours: dict[str, Any] = {}
    suffix = f"_{task}_{reward}_seed"
    for key, entry in sorted(doc["runs"].items()):
        if suffix not in key or not key.split(suffix)[1].isdigit() or not entry.get("eval_curve"):
            continue
        variant = key.split(suffix)[0]
        steps, returns = zip(*entry["eval_curve"], strict=True)
        first = variant not in colours
        colours.setdefault(variant, f"C{len(colours)}")
        ax.plot(steps, returns, color=colours[variant], lw=1, label=variant if first else None)
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, color="k", ls=("--", ":")[i % 2], lw=1, label=f"{name} ({value:g})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"evaluation return (reward {reward})")
    ax.set_title(f"Block{task.capitalize()} state teacher (Oracle, cpu preset), one line per seed")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main() -> None:
    """Train (resuming), score 20 trials, write the JSON entry."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", help=f"one of {VARIANTS}, or several joined by '+'; required unless --rescore")
    p.add_argument("--task", default="push", choices=("push", "lift"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget-minutes", type=float, default=25.0)
    p.add_argument("--runs-dir", type=Path, default=Path("runs/franka_probe"))
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--rescore", nargs=2, metavar=("KEY", "RUN_DIR"), help="score a run only (see above)")
    p.add_argument(
        "--plot", action="store_true", help="only plot the JSON's curves of --task under the current reward (PNG)"
    )
    a = p.parse_args()
    if a.plot:
        from twist_envs.franka.tasks import REWARD_VERSION

        os.environ.setdefault("MUJOCO_GL", "egl")
        png = a.out.with_name(f"{a.out.stem}_{a.task}_curves.png")
        refs = reference_returns(f"TWIST/Block{a.task.capitalize()}-Sim-v0")
        print(plot_curves(json.loads(a.out.read_text()), png, a.task, REWARD_VERSION, refs), refs)
        return
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
    loop_overrides, agent_overrides = variant_settings(a.variant)  # an unknown variant fails before any work
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
    run = a.runs_dir / f"reward-{REWARD_VERSION}" / f"{a.variant}_{a.task}_s{a.seed}"
    summary = train_dreamer(
        env_id,
        agent="oracle",
        preset="cpu",
        seed=a.seed,
        run_dir=run,
        resume=run.exists(),
        env_kwargs={"obs_mode": "state", "randomization": "train", **variant_env_kwargs(a.variant)},
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
        "env_kwargs": variant_env_kwargs(a.variant),
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
