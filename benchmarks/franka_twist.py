"""TWIST on the Franka block tasks, the paper's Fig. 5 experiment as far as this machine takes it.

    MUJOCO_GL=egl LP_NUM_THREADS=1 .venv/bin/python benchmarks/franka_twist.py \\
        --tasks push,lift --seeds 3 --budget-minutes 30 --trials 20

Stages, each resumable (run the same command again after a kill):

1. **training**, through the runner's own grid (:func:`twist_agents.runner.compare.compare`) under one wall-clock
   budget per run: ``twist`` (the state teacher trained in ``TWIST/Block*-Sim-v0`` with the paper's DR, appearance
   every step and friction/mass every episode, then the student distilled on the teacher's stored images) and
   ``dreamer-dr`` (a pixel Dreamer on the same randomised env) at the same budget; 2 worker processes with one
   torch thread each. The grid also evaluates every run on held-out sim appearances (``randomization="test"``).
2. **teacher** success on state in the sim (``obs_mode="state"``, ``randomization="train"``: the friction and
   mass randomisation the teacher trained under; appearance does not reach a state policy).
3. **deployment**: the student through ``TWIST/Block*-Real-v0`` with the sim twins (``robot=sim,camera=sim``),
   i.e. ``twist eval RUN --env TWIST/BlockPush-Real-v0 --env-kwargs robot=sim,camera=sim``: the real env's
   safety layer, reset procedure, success judgement and episode log, with its camera pose and brightness
   randomisation on. When the safety layer stops a session (a collision reflex recurring right after its
   recovery), that trial counts as failed and a new session runs the rest, as an operator would at the robot.

4. **read-out**: where the student's latent says the cube and the tool tip are, beside the teacher's
   (:func:`_student_readout`: both filters side by side, read by the teacher's state decoder; xy error in cm on
   episodes of the scripted controller and of the student, held-out and training appearances). A student that
   fails although its teacher succeeds either misreads the scene (a large error here) or acts badly on a good
   reading.

The teacher's evaluation also records each episode's peak contact force on the robot (``info["contact_force"]``):
the sim env lets a policy press the block into the table, the arm's reflex stops above 30 N
(``REFLEX_FORCE_N``), so ``teacher_state_over_reflex`` counts the sim successes no real arm would allow.

Training goes through the runner, so every run gets the block tasks' recipe on top of the preset
(:mod:`twist_agents.runner.recipes`: standardised state in the world model, demonstrations in the prefill, the arm's
30 N reflex in the training env; the JSON records it as ``task_recipe``), TWIST's teacher and Dreamer w/ DR alike.
The default runs directory carries the reward version and a tag of the recipe (:func:`recipe_tag`), so runs made
under another reward or recipe are never resumed.

Every evaluation runs ``--trials`` episodes with the policy's mode and reports ``info["success"]`` at the last
step (the paper: 20 trials per seed); for scale, the same trials of the scripted state controller, a random and a
zero action. Output: ``benchmarks/results/franka_twist.json`` (with the tasks' ``REWARD_VERSION``; the runs made
under reward ``v1`` are kept in ``franka_twist_reward_v1.json``, those of the recipe without the reflex in
``franka_twist_no_reflex.json``): per task and seed the
four success rates, each stage's wall clock and env steps, per task the means against the issue's targets, and
every run's training-return curve (TWIST: its teacher's); ``franka_twist_curves.png`` plots those curves.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = {"push": "BlockPush", "lift": "BlockLift"}
TARGETS = {
    "push": {"teacher_state": 0.9, "student_heldout": 0.8, "student_real_sim": 0.8},
    "lift": {"teacher_state": 0.8, "student_heldout": 0.6, "student_real_sim": 0.6},
}
"""Success-rate targets per task (the issue's, from the paper's Fig. 5 scale)."""
EVAL_SEED = 50_000
"""First reset seed of every evaluation here; far from training seeds, the same for every agent and seed."""


def _cached(path: Path, make: Any) -> dict[str, Any]:
    """``make()``'s dict, computed once and kept in ``path`` (so a rerun does not redo an evaluation)."""
    if path.exists():
        return json.loads(path.read_text())
    t0 = time.time()
    value = make()
    value["wall_s"] = time.time() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1))
    return value


def _recording_peak_force(env: Any) -> Any:
    """``env`` (a Franka sim env) wrapped to keep each episode's largest ``info["contact_force"]`` (N) in
    ``.peaks``."""
    import gymnasium as gym

    class PeakContactForce(gym.Wrapper):
        def __init__(self, env: Any) -> None:
            super().__init__(env)
            self.peaks: list[float] = []

        def reset(self, **kwargs: Any) -> Any:
            self.peaks.append(0.0)
            return self.env.reset(**kwargs)

        def step(self, action: Any) -> Any:
            out = self.env.step(action)
            self.peaks[-1] = max(self.peaks[-1], float(out[4].get("contact_force", 0.0)))
            return out

    return PeakContactForce(env)


def teacher_state_success(teacher: Any, env_id: str, trials: int) -> dict[str, Any]:
    """A Dreamer teacher on state in the sim with the training split's physics randomisation, ``trials`` episodes.

    Beside success it keeps each episode's peak contact force on the robot: the sim env lets a policy press the
    block into the table, the real arm's collision reflex does not: ``over_reflex`` counts the episodes that crossed
    its threshold (``REFLEX_FORCE_N``, 30 N), each of which would have stopped the arm at the robot."""
    from twist_agents.training.evaluate import evaluate, make_eval_env
    from twist_envs.franka.scene import REFLEX_FORCE_N

    env = _recording_peak_force(make_eval_env(env_id, ("state",), split="train"))
    try:
        res = evaluate(teacher, env, ("state",), episodes=trials, seed=EVAL_SEED, progress=False)
    finally:
        env.close()
    return {
        "success": list(res.successes),
        "returns": list(res.returns),
        "peak_contact_force_n": [round(f, 1) for f in env.peaks],
        "over_reflex": sum(f > REFLEX_FORCE_N for f in env.peaks),
    }


def _teacher_success(run_dir: Path, env_id: str, trials: int) -> dict[str, Any]:
    """The twist run's teacher (:func:`teacher_state_success`), cached in the run's ``eval/``."""
    from twist_agents.runner.runs import load_run_agent

    return _cached(
        run_dir / "eval" / "franka_twist_teacher_state.json",
        lambda: teacher_state_success(load_run_agent(run_dir)[0].teacher, env_id, trials),
    )


REAL_SIM_KWARGS = "robot=sim,camera=sim"
"""``--env-kwargs`` of the deployment path here: both sim twins, with the paper's real-run camera pose and brightness
randomisation (the sim camera's default)."""


def real_path_success(
    run_dir: Path, env_id: str, trials: int, env_kwargs: str = REAL_SIM_KWARGS, cache: str = "franka_twist_real_sim"
) -> dict[str, Any]:
    """The student through the real env with the sim twins (the deployment path of ``twist eval --env``).

    When the safety layer ends a session (a collision reflex that recurs right after its recovery), the episode
    it ended counts as a failed trial, as it would at the robot, and a new session (homing again) runs the
    remaining trials: ``trials`` episodes are always judged. ``aborted`` lists the trials that ended that way
    and why; each session's episode log stays in ``eval/TWIST_Block*-Real-v0/``. The result is kept in
    ``eval/<cache>.json`` of ``run_dir`` (a rerun reads it)."""
    from twist_agents.errors import UserError
    from twist_agents.runner.runs import eval_run

    real_id = env_id.replace("-Sim-", "-Real-")
    sessions_root = run_dir / "eval" / real_id.replace("/", "_")

    def make() -> dict[str, Any]:
        success: list[float] = []
        returns: list[float] = []
        aborted: list[dict[str, Any]] = []
        while len(success) < trials:
            before = set(sessions_root.glob("*")) if sessions_root.exists() else set()
            first = len(success)
            try:
                res = eval_run(
                    run_dir,
                    split=None,
                    episodes=trials - first,
                    seed=EVAL_SEED + first,
                    video_episodes=1 if first == 0 else 0,
                    progress=False,
                    env_id=real_id,
                    env_kwargs=env_kwargs,
                )
            except UserError as e:  # the safety layer ended the session: read what its episode log kept
                (session,) = set(sessions_root.glob("*")) - before
                for row in map(json.loads, (session / "episodes.jsonl").read_text().splitlines()):
                    done = row["status"] == "done"
                    success.append(float(bool(row["success"])) if done else 0.0)
                    returns.append(float(row["return"]))
                    if not done:
                        aborted.append({"trial": len(success) - 1, "step": row["steps"], "reason": str(e)})
                        break
                if len(success) == first:  # ended before its first episode was logged: still a failed trial
                    success.append(0.0)
                    returns.append(0.0)
                    aborted.append({"trial": first, "step": 0, "reason": str(e)})
                continue
            success += list(res.successes)
            returns += list(res.returns)
        return {"env_id": real_id, "env_kwargs": env_kwargs, "success": success, "returns": returns, "aborted": aborted}

    return _cached(run_dir / "eval" / f"{cache}.json", make)


READOUT_EPISODES = 5
"""Episodes per driver of the student's read-out measurement (:func:`_student_readout`)."""


def readout_parts() -> dict[str, slice]:
    """What :func:`student_readout` reads: the cube's and the tool tip's x, y as slices of the flat Franka state
    (:data:`~twist_envs.franka.sim.STATE_LAYOUT`), ``{"cube": ..., "tip": ...}``."""
    from twist_envs.franka.sim import STATE_SLICES

    at = {part: STATE_SLICES[key].start for part, key in (("cube", "block_pos"), ("tip", "ee_pos"))}
    return {part: slice(start, start + 2) for part, start in at.items()}


def student_readout(agent: Any, env_id: str, **env_kwargs: Any) -> dict[str, Any]:
    """Where the student thinks the cube and the tool tip are, beside where the teacher thinks they are.

    Both filters of the TWIST ``agent`` run side by side (:func:`~twist_agents.twist.diagnostics.latent_error_trace`
    with ``decode=True``) on held-out appearances (``test``) and on the training distribution (``train``): the
    teacher's state decoder reads the teacher's latent and the student's (the student is distilled into the
    teacher's latent space), and the xy root-mean-square error against the true positions, in cm, is each filter's
    perception error. Two kinds of episodes, :data:`READOUT_EPISODES` each: driven by the env's scripted controller
    (the cube moves, as in a push that succeeds) and by the student (deployment). ``*_spread_cm`` is the error of
    always answering the mean position: an error that large reads nothing. ``env_kwargs``: more settings of the
    env (e.g. its randomisation ``terms``)."""
    from twist_agents.training.envs import make_env
    from twist_agents.twist.diagnostics import latent_error_trace

    def cell(traces: list[dict[str, np.ndarray]]) -> dict[str, float]:
        true = np.concatenate([t["true"] for t in traces])  # (N, D)
        out = {}
        for part, xy in readout_parts().items():
            for reader in ("teacher", "student", "student_aux"):
                if reader not in traces[0]:  # student_aux: only a student with a state_aux head in data units
                    continue
                err = np.concatenate([t[reader] for t in traces])[:, xy] - true[:, xy]  # (N, 2)
                if np.isnan(err).any():  # student_aux of a head that reads other state dimensions
                    continue
                out[f"{part}_xy_error_cm_{reader}"] = round(100 * float(np.sqrt((err**2).sum(1).mean())), 2)
            # What always answering the mean position would score: an error this size reads nothing.
            moved = true[:, xy] - true[:, xy].mean(0)
            out[f"{part}_xy_spread_cm"] = round(100 * float(np.sqrt((moved**2).sum(1).mean())), 2)
        return out

    out: dict[str, Any] = {"episodes": READOUT_EPISODES}
    for split in ("test", "train"):
        env = make_env(env_id, EVAL_SEED, obs_mode="paired", randomization=split, **env_kwargs)
        try:
            out[split] = {
                driver: cell(
                    [
                        latent_error_trace(agent, env, driver, EVAL_SEED + i, decode=True)["decoded"]
                        for i in range(READOUT_EPISODES)
                    ]
                )
                for driver in ("expert", "student")
            }
        finally:
            env.close()
    return out


def _student_readout(run_dir: Path, env_id: str) -> dict[str, Any]:
    """:func:`student_readout` of the twist run in ``run_dir``, computed once (``eval/franka_twist_readout.json``)."""
    from twist_agents.runner.runs import load_run_agent

    return _cached(
        run_dir / "eval" / "franka_twist_readout.json", lambda: student_readout(load_run_agent(run_dir)[0], env_id)
    )


def _references(out_dir: Path, env_id: str, task: str, trials: int) -> dict[str, Any]:
    """Scale for the success rates and returns: the scripted state controller, a random and a zero action."""
    import gymnasium as gym
    from reference_policies import run_episode

    import twist_envs  # noqa: F401  (registers the ids)
    from twist_envs.franka.scripted import ScriptedPolicy

    def make() -> dict[str, Any]:
        env = gym.make(env_id, obs_mode="state", randomization="train")
        out: dict[str, Any] = {}
        try:
            for name in ("scripted", "random", "zero"):
                returns, success = [], []
                env.action_space.seed(EVAL_SEED)
                zero = np.zeros(env.action_space.shape, np.float32)
                for ep in range(trials):
                    policy = ScriptedPolicy(task)
                    act = {
                        "scripted": lambda p=policy: p.act(env.unwrapped.readout()),
                        "random": env.action_space.sample,
                        "zero": lambda z=zero: z,
                    }[name]
                    total, info = run_episode(env, act, EVAL_SEED + ep)
                    returns.append(total)
                    success.append(float(info["success"]))
                out[name] = {"success": _rate(success), "mean_return": float(np.mean(returns))}
        finally:
            env.close()
        return out

    return _cached(out_dir / "references" / f"{task}.json", make)


def _rate(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else float("nan")


def cpu_model() -> str:
    """This machine's CPU, e.g. ``"AMD EPYC, family 25, 2 cpus"`` (from ``/proc/cpuinfo`` where it exists)."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return f"{info.get('model name', 'unknown CPU')}, family {info.get('cpu family', '?')}, {os.cpu_count()} cpus"


def collect(out_dir: Path, tasks: list[str], seeds: list[int], trials: int) -> dict[str, Any]:
    """Evaluate what the grid trained (cached) and gather one row per task and seed."""
    from twist_agents.runner.compare import env_slug
    from twist_agents.runner.results import collect_episodes

    episodes = collect_episodes(out_dir / "runs", "test")  # the grid's held-out evaluations, every run

    def heldout(agent: str, env_id: str, seed: int) -> float:
        mine = episodes[(episodes["agent"] == agent) & (episodes["env_id"] == env_id) & (episodes["seed"] == seed)]
        return _rate(mine["success"].dropna().astype(float).tolist())

    rows = []
    for task in tasks:
        env_id = f"TWIST/{TASKS[task]}-Sim-v0"
        for seed in seeds:
            twist_dir = out_dir / "runs" / "twist" / env_slug(env_id) / f"seed{seed}"
            dr_dir = out_dir / "runs" / "dreamer-dr" / env_slug(env_id) / f"seed{seed}"
            # Runs are budgeted by wall clock, so the CPU sets how many env steps and updates a budget buys.
            row: dict[str, Any] = {"task": task, "env_id": env_id, "seed": seed, "machine_cpu": cpu_model()}
            if (twist_dir / "DONE").exists():
                cfg = json.loads((twist_dir / "run.json").read_text())
                teacher = _teacher_success(twist_dir, env_id, trials)
                real = real_path_success(twist_dir, env_id, trials)
                readout = _student_readout(twist_dir, env_id)
                row.update(
                    teacher_state=_rate(teacher["success"]),
                    student_heldout=heldout("twist", env_id, seed),
                    student_real_sim=_rate(real["success"]),
                    real_sim_aborted_trials=len(real["aborted"]),
                    real_sim_aborts=real["aborted"],
                    teacher_state_over_reflex=teacher["over_reflex"],
                    teacher_state_peak_contact_force_n=teacher["peak_contact_force_n"],
                    # What the teacher's training env really was (the recipe may have changed since).
                    teacher_env_kwargs=json.loads((twist_dir / "teacher" / "config.json").read_text())["env_kwargs"],
                    twist_training=cfg.get("training", {}),
                    twist_train_s=cfg.get("train_s"),
                    readout_heldout=readout["test"],
                    readout_train_appearances=readout["train"],
                    wall_s={
                        "teacher_eval": teacher["wall_s"],
                        "real_path_eval": real["wall_s"],
                        "readout": readout["wall_s"],
                    },
                )
            if (dr_dir / "DONE").exists():
                cfg = json.loads((dr_dir / "run.json").read_text())
                row.update(
                    dreamer_dr_heldout=heldout("dreamer-dr", env_id, seed),
                    dreamer_dr_train_s=cfg.get("train_s"),
                    dreamer_dr_env_steps=cfg.get("training", {}).get("env_steps"),
                )
            rows.append(row)
    refs = {task: _references(out_dir, f"TWIST/{TASKS[task]}-Sim-v0", task, trials) for task in tasks}
    return {"rows": rows, "references_state_sim": refs}


def task_curves(out_dir: Path, tasks: list[str]) -> Any:
    """Training-episode returns of every run of ``tasks`` (TWIST: its teacher's), a learning-curves frame."""
    from twist_agents.runner.results import learning_curves

    curves = learning_curves(out_dir / "runs")
    return curves[curves["env_id"].isin({f"TWIST/{TASKS[t]}-Sim-v0" for t in tasks})]


def curves_json(curves: Any) -> dict[str, list[list[float]]]:
    """``{"agent env seed": [[step, return], ...]}`` of a learning-curves frame."""
    return {
        f"{a} {e} {s}": g[["step", "return"]].to_numpy(float).round(2).tolist()
        for (a, e, s), g in curves.groupby(["agent", "env_id", "seed"])
    }


def recipe_tag() -> str:
    """8 hex digits that change whenever the block tasks' recipe (:mod:`twist_agents.runner.recipes`) does: part of
    the default runs directory, so that a changed recipe starts new runs instead of resuming old ones."""
    from dataclasses import asdict

    from twist_agents.runner.recipes import recipe_for

    recipes = {task: asdict(recipe_for(f"TWIST/{name}-Sim-v0")) for task, name in TASKS.items()}
    return hashlib.sha1(json.dumps(recipes, sort_keys=True).encode()).hexdigest()[:8]


def default_runs_dir() -> Path:
    """The default command's runs directory: ``runs/franka_twist_reward-<REWARD_VERSION>_recipe-<recipe_tag()>``."""
    from twist_envs.franka.tasks import REWARD_VERSION

    return Path(f"runs/franka_twist_reward-{REWARD_VERSION}_recipe-{recipe_tag()}")


def keep_earlier_rows(earlier: dict[str, Any], data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """``data`` plus the rows (and curves) of ``earlier``, a previous output, for the (task, seed) pairs this call
    did not evaluate, when ``earlier`` came from the same runs dir, reward version and task recipe (else
    ``data`` alone). A kept row is marked with the commit of the call that made it (``from_commit``)."""
    from dataclasses import asdict

    from twist_agents.runner.recipes import recipe_for
    from twist_envs.franka.tasks import REWARD_VERSION

    same = (
        earlier.get("runs_dir") == str(args.runs_dir)
        and earlier.get("reward_version") == REWARD_VERSION
        and all(
            earlier.get("task_recipe", {}).get(t) == asdict(recipe_for(f"TWIST/{TASKS[t]}-Sim-v0")) for t in args.tasks
        )
    )
    if not same:
        print("franka_twist.py: --out came from another runs dir, reward or recipe; its rows are not kept", flush=True)
        return data
    done = {(r["task"], r["seed"]) for r in data["rows"]}
    kept = [
        {**r, "from_commit": r.get("from_commit", earlier.get("commit"))}
        for r in earlier.get("rows", [])
        if (r["task"], r["seed"]) not in done and r["task"] in args.tasks
    ]
    kept_curves = {k: v for k, v in earlier.get("curves", {}).items() if k not in data["curves"]}
    rows = sorted(kept + data["rows"], key=lambda r: (r["task"], r["seed"]))
    return {**data, "rows": rows, "curves": {**kept_curves, **data["curves"]}}


def summarise(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Per-task means over seeds, each beside its target."""
    keys = ("teacher_state", "student_heldout", "student_real_sim", "dreamer_dr_heldout")
    per_task = {}
    for task in args.tasks:
        rows = [r for r in data["rows"] if r["task"] == task]
        means = {k: _rate([r[k] for r in rows if k in r]) for k in keys}
        per_task[task] = {
            "seeds_done": sorted(r["seed"] for r in rows if "teacher_state" in r),
            "mean_success": means,
            "target": TARGETS[task],
            "met": {k: bool(means[k] >= v) for k, v in TARGETS[task].items()},
        }
    try:
        commit = subprocess.check_output(["git", "rev-parse", "HEAD"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    from dataclasses import asdict

    from twist_agents.runner.recipes import recipe_for
    from twist_envs.franka.tasks import REWARD_VERSION

    return {
        "reward_version": REWARD_VERSION,
        "task_recipe": {task: asdict(recipe_for(f"TWIST/{TASKS[task]}-Sim-v0")) for task in args.tasks},
        "runs_dir": str(args.runs_dir),
        "command": "benchmarks/franka_twist.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v if not isinstance(v, list) else ','.join(map(str, v))}"
            for k, v in vars(args).items()
            if k not in ("out", "runs_dir") and v != "" and not (k == "seeds" and args.seed_list)
        ),
        "commit": commit,
        "machine": f"{os.cpu_count()} cpus, 2 worker processes x 1 torch thread, load {os.getloadavg()[0]:.1f}",
        "trials_per_seed": args.trials,
        "budget_minutes_per_run": args.budget_minutes,
        "per_task": per_task,
        **data,
    }


def main() -> None:
    """Train (resuming) through the runner's grid, evaluate teacher and deployment path, write the JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default="push,lift", help=f"comma-separated, of {list(TASKS)}")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    p.add_argument(
        "--seed-list",
        default="",
        help="explicit seeds instead, e.g. 2,3: only those are trained and evaluated, and the rows of other seeds "
        "already in --out for the same runs dir, reward and recipe are kept (so seeds can be added in a later "
        "session, on a clone that no longer has the earlier run directories)",
    )
    p.add_argument("--budget-minutes", type=float, default=30.0, help="training wall clock of every run")
    p.add_argument("--trials", type=int, default=20, help="evaluation episodes per seed and stage (paper: 20)")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--agents", default="twist,dreamer-dr", help="twist, and the baseline(s) at the same budget")
    p.add_argument(
        "--runs-dir",
        type=Path,
        default=None,
        help="default runs/franka_twist_reward-<version>_recipe-<tag>: runs trained under another reward or "
        "another task recipe are never resumed",
    )
    p.add_argument("--out", type=Path, default=RESULTS / "franka_twist.json")
    a = p.parse_args()
    a.tasks = [t.strip() for t in a.tasks.split(",") if t.strip()]
    unknown = sorted(set(a.tasks) - set(TASKS))
    if unknown or not a.tasks:
        raise SystemExit(f"franka_twist.py: unknown tasks {unknown}; choose from {list(TASKS)}")
    if a.seeds < 1 or a.trials < 1 or not a.budget_minutes > 0:
        raise SystemExit("franka_twist.py: --seeds, --trials and --budget-minutes must be positive")
    try:
        seeds = sorted({int(x) for x in a.seed_list.split(",") if x.strip()}) or list(range(a.seeds))
    except ValueError:
        raise SystemExit(f"franka_twist.py: --seed-list wants comma-separated integers, got {a.seed_list!r}") from None
    if min(seeds) < 0:
        raise SystemExit("franka_twist.py: seeds must be >= 0")
    os.environ.setdefault("MUJOCO_GL", "egl")
    import torch

    from twist_agents.runner.compare import compare
    from twist_agents.runner.results import plot_learning_curves

    torch.set_num_threads(1)
    if a.runs_dir is None:
        a.runs_dir = default_runs_dir()
    envs = [f"TWIST/{TASKS[t]}-Sim-v0" for t in a.tasks]
    compare(
        [x.strip() for x in a.agents.split(",") if x.strip()],
        envs,
        seeds,
        a.runs_dir,
        preset=a.preset,
        eval_episodes=a.trials,
        budget_minutes=a.budget_minutes,
    )
    curves = task_curves(a.runs_dir, a.tasks)
    data = {**collect(a.runs_dir, a.tasks, seeds, a.trials), "curves": curves_json(curves)}
    if a.seed_list and a.out.exists():
        data = keep_earlier_rows(json.loads(a.out.read_text()), data, a)
    data = summarise(data, a)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(data, indent=1))
    if a.seed_list:  # the kept seeds' curves too (their run directories may be gone)
        import pandas as pd

        cols = ("agent", "env_id", "seed", "step", "return")
        curves = pd.DataFrame(
            [(*k.split(" ")[:2], int(k.split(" ")[2]), st, r) for k, pts in data["curves"].items() for st, r in pts],
            columns=list(cols),
        )
    if len(curves):  # one panel per task asked for, every agent's training returns
        plot_learning_curves(curves, a.out.with_name(a.out.stem + "_curves.png"))
    print(json.dumps(data["per_task"], indent=1))


if __name__ == "__main__":
    main()
