"""The TWIST pipeline (paper Fig. 1): teacher on state -> student distilled on the paired images -> evaluation.

::

    1. teacher   Oracle Dreamer on obs_mode="paired", randomization="train": it *reads* the state, and every
                 stored episode also keeps the randomised pixels of the same steps (the dataset D).
    2. distil    Algorithm 1 on D, no new environment interaction: Eq. 3 on L-step sequences + Eq. 4 on
                 H-step imagined rollouts; the teacher is frozen.
    3. evaluate  the TwistAgent (student latents -> teacher actor) from pixels only, on randomization="test"
                 (held-out appearances, fixed per episode); the teacher on state; a random policy.

Run directory::

    run_dir/teacher/...              the teacher's Dreamer run (episodes/, checkpoints/, metrics.csv, tb/)
    run_dir/student/ckpt.pt          resumable distillation checkpoint (written atomically)
    run_dir/student/metrics.csv      distillation metrics (+ TensorBoard events)
    run_dir/twist_agent.pt           the final deployable artefact (TwistAgent.save)
    run_dir/summary.json             returns and wall clock of each stage (training clocks across resumes)

Every stage resumes: a killed run re-entered with ``resume=True`` continues the teacher from its last checkpoint
(keeping every stored episode), then the distillation from its last checkpoint.

From a trained teacher (:func:`twist_from_teacher`, what ``twist demo`` does with the teacher this project ships,
:func:`shipped_teacher`), stage 1 is replaced by *recording* D: the teacher acts on state in the paired,
train-randomised env (:func:`collect_dataset`); ``run_dir/teacher/agent.pt`` keeps a copy of the teacher.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twist_agents.data import EpisodeStore, SequenceSampler
from twist_agents.data.store import EPISODE_LOAD_ERRORS, atomic_write, load_episode
from twist_agents.dreamer import DreamerAgent
from twist_agents.dreamer.agent import atomic_torch_save
from twist_agents.dreamer.trainer import train_dreamer
from twist_agents.training.checkpoints import latest_checkpoint
from twist_agents.training.envs import make_env
from twist_agents.training.episodes import append_row, as_obs_dict, episode_seed
from twist_agents.training.evaluate import episode_returns
from twist_agents.training.metrics import MetricsLogger
from twist_agents.twist.agent import TwistAgent
from twist_agents.twist.config import DistillConfig, distill_config

DEMO_ENV = "TWIST/CartpoleBalance-Distracting-v0"

TEACHERS_DIR = Path(__file__).resolve().parent / "teachers"
"""Teacher checkpoints this project trained and ships (weights only), with the command that made each one
and its learning curve in ``teachers/README.md``."""
SHIPPED_TEACHERS: dict[tuple[str, str], str] = {
    (DEMO_ENV, "cpu"): "cartpole_balance_oracle_cpu.pt",
}
"""``(env id, preset) -> file in`` :data:`TEACHERS_DIR`."""


def shipped_teacher(env_id: str, preset: str) -> Path | None:
    """The shipped teacher checkpoint for ``env_id`` at ``preset``, or ``None`` if the project ships none."""
    name = SHIPPED_TEACHERS.get((env_id, preset))
    path = TEACHERS_DIR / name if name else None
    return path if path is not None and path.exists() else None


def collect_dataset(
    teacher: DreamerAgent,
    env_id: str,
    episodes_dir: str | Path,
    steps: int,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    progress: bool = True,
    action_noise: tuple[float, float] = (0.0, 0.0),
    driver: TwistAgent | None = None,
    teacher_prob: float = 0.0,
    push_rate: float = 0.0,
    push_steps: tuple[int, int] = (3, 15),
) -> int:
    """Roll out a trained teacher (it reads ``state``) in the paired, train-randomised env; store every episode.

    This builds the dataset D = {(s_t, o_t, a_t, r_t)} of Algorithm 1 from a *finished* teacher, for
    when its training run's own episodes are not at hand (a shipped teacher checkpoint). In the paper D
    is the teacher's whole training history, from random to expert behaviour; a finished teacher alone
    visits only a narrow band of states, and a student distilled on that band drifts out of it at
    deployment (measured: errors stay small along teacher-driven episodes and explode along
    student-driven ones). ``action_noise`` widens D the way the history does: each episode draws a noise
    scale ``sigma ~ U(low, high)`` and every action gets Gaussian noise of that scale (then clipped),
    so D holds near-expert, perturbed and recovering trajectories. Resumable: episodes already stored
    count towards ``steps``.

    Args:
        teacher: the trained teacher.
        env_id: a simulated id with paired observations.
        episodes_dir: where the episodes go (an :class:`~twist_agents.data.EpisodeStore`).
        steps: env steps to store in total.
        seed: seeds the env resets (disjoint from training and evaluation resets).
        env_kwargs: extra ``gym.make`` kwargs (default ``obs_mode="paired", randomization="train"``).
        progress: show a progress bar.
        action_noise: ``(low, high)`` range of the per-episode noise scale (actions live in the env's bounds).
        driver: a student that acts instead of the teacher (on the paired observation's pixels): a DAgger
            round. The stored rows are the same either way (state, pixels, executed action), so the teacher's
            latents along the *student's* trajectory are what Eq. 3 and Eq. 4 distil on them.
            Measured on cartpole (half the steps the teacher's, 5k steps and 500 updates a round): held-out
            returns fell from 339, 321 to 180, 224 after two rounds.
        teacher_prob: with a ``driver``, the probability that a step's action is the teacher's instead
            (DAgger's mixture; both models keep filtering the executed action).
        push_rate: expected number of *pushes* per 100 steps. A push replaces the policy's action by one
            uniform random action held for ``U{push_steps}`` steps. Held actions move the system far (white
            noise of the same size averages out), so D holds states off the expert's narrow band *and* the
            teacher's recovery from them: what the student meets when its own small errors have pushed it.
            Measured on cartpole (rate 3, 3-15 steps): the wider D is fitted slowly; after 1000-3000 updates
            the student scores below the one distilled on the expert's narrow D (187-260 against 454-491).
        push_steps: ``(low, high)`` duration of a push, inclusive.

    Returns:
        The env steps stored in ``episodes_dir``.
    """
    from collections import defaultdict

    from tqdm.auto import tqdm

    store = EpisodeStore(episodes_dir)
    kwargs = {"obs_mode": "paired", "randomization": "train", **(dict(env_kwargs) if env_kwargs else {})}
    env = make_env(env_id, seed, **kwargs)
    low, high = env.action_space.low, env.action_space.high  # type: ignore[attr-defined]
    bar = tqdm(
        total=steps, initial=min(store.num_steps, steps), desc="teacher dataset", unit="step", disable=not progress
    )
    try:
        while store.num_steps < steps:
            ep_seed = episode_seed(seed + 7919, len(store))
            obs = as_obs_dict(env.reset(seed=ep_seed)[0])
            rng = np.random.default_rng(ep_seed)
            sigma = rng.uniform(*action_noise) * (high - low) / 2.0
            episode: dict[str, list[Any]] = defaultdict(list)
            append_row(episode, obs, np.zeros(low.shape, np.float32), 0.0, True, False, False)
            state, d_state, done = None, None, False
            push_left, push_action = 0, np.zeros_like(low)
            while not done:
                action, state = teacher.act(obs, state, driver is None)
                if driver is not None:
                    d_action, d_state = driver.act(obs, d_state, False)
                    action = action if rng.random() < teacher_prob else d_action
                action = np.clip(action + sigma * rng.standard_normal(action.shape), low, high).astype(np.float32)
                if push_left == 0 and push_rate > 0 and rng.random() < push_rate / 100.0:
                    push_left = int(rng.integers(push_steps[0], push_steps[1] + 1))
                    push_action = rng.uniform(low, high).astype(np.float32)
                if push_left > 0:
                    action, push_left = push_action, push_left - 1
                next_obs, reward, terminated, truncated, _ = env.step(action)
                obs = as_obs_dict(next_obs)
                done = bool(terminated or truncated)
                norm = (2.0 * (action - low) / (high - low) - 1.0).astype(np.float32)
                # Both filters must see the action that was executed (noise, push or the other policy's): it is
                # the a_{t-1} of their next step, as it is in the stored row.
                executed = torch.as_tensor(norm, device=teacher.device)[None]
                state = (state[0], executed)
                d_state = (d_state[0], executed) if d_state is not None else None
                append_row(episode, obs, norm, float(reward), False, done, bool(terminated))
                bar.update(1)
            store.add({k: np.stack(v) for k, v in episode.items()})
    finally:
        env.close()
        bar.close()
    return store.num_steps


class RandomAgent:
    """Uniformly random actions (the lower reference of the demo table); implements ``act`` only."""

    def __init__(self, action_space: Any, seed: int = 0) -> None:
        self.space = action_space
        self.space.seed(seed)

    def act(self, obs: Mapping[str, np.ndarray], state: Any, explore: bool) -> tuple[np.ndarray, Any]:
        """A uniform sample of the action space."""
        return self.space.sample(), None


def distil(
    teacher: DreamerAgent,
    episodes_dir: str | Path,
    out_dir: str | Path,
    config: DistillConfig,
    seed: int = 0,
    resume: bool = True,
    progress: bool = True,
    time_limit_s: float | None = None,
) -> TwistAgent:
    """Algorithm 1: distil ``teacher`` into a pixel student on the stored paired episodes.

    Args:
        teacher: the trained teacher (its run stored ``state`` and ``pixels`` for every step).
        episodes_dir: the teacher's ``episodes/`` folder (the dataset D).
        out_dir: where the checkpoint and metrics go.
        config: distillation settings.
        seed: seeds the student and the sampler.
        resume: continue from ``out_dir/ckpt.pt`` if it exists.
        progress: show a progress bar.
        time_limit_s: stop at an update boundary once the distillation's wall clock (its update loop, checkpoints
            included, accumulated across resumes in ``ckpt.pt``) reaches this many seconds, and checkpoint there
            so that a resume continues (or, with the same limit, stops at once); ``None``: only
            ``config.updates`` ends it. :func:`train_twist` passes what is left of a run's budget.

    Returns:
        The distilled :class:`TwistAgent`.
    """
    return _distil(teacher, episodes_dir, out_dir, config, seed, resume, progress, time_limit_s)[0]


def _distil(
    teacher: DreamerAgent,
    episodes_dir: str | Path,
    out_dir: str | Path,
    config: DistillConfig,
    seed: int,
    resume: bool,
    progress: bool,
    time_limit_s: float | None,
) -> tuple[TwistAgent, dict[str, Any]]:
    """:func:`distil`, also returning its clock: ``distill_s`` (all resumes), ``distill_stopped_on_time``."""
    from tqdm.auto import tqdm

    store = EpisodeStore(episodes_dir)
    if len(store) == 0:
        raise FileNotFoundError(f"distil: no episodes in {episodes_dir}: train the teacher first")
    first = store.load(store.paths[0])
    if "pixels" not in first:
        raise ValueError(
            f"distil: the teacher's episodes in {episodes_dir} have no 'pixels' (train it on obs_mode='paired')"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    agent = TwistAgent(teacher, {"pixels": first["pixels"].shape[1:]}, config, seed=seed)
    sampler = SequenceSampler(store, config.seq_len, keys=agent.batch_keys, cache_size=config.cache_episodes, seed=seed)
    # Single frames from all of D for the read-out pretraining (DistillConfig.readout_pretrain), its own stream. Its
    # cache holds all of D (freed when the pretraining ends, unless shared as below): a batch of 64 frames from
    # random episodes would otherwise load and decompress ~64 episodes (1.3 s on Franka BlockPush's D of 1284
    # episodes, cache 200).
    # When the distillation's cache holds all of D too (cache_episodes >= |D|), both samplers read one copy in RAM
    # and the episodes the pretraining loaded stay for the distillation.
    frames = None
    shared = config.cache_episodes >= len(store)
    if config.readout_pretrain:
        cache = max(config.cache_episodes, len(store))
        frames = SequenceSampler(store, 1, keys=agent.batch_keys, cache_size=cache, seed=seed + 1)
        if shared:
            frames.share_cache(sampler)
    ckpt = out_dir / "ckpt.pt"
    prior_s = 0.0
    if resume and ckpt.exists():
        state = torch.load(ckpt, map_location=agent.device, weights_only=False)
        agent.load_state_dict(state)
        sampler.rng.bit_generator.state = state["sampler_rng"]
        if frames is not None and "frames_rng" in state:
            frames.rng.bit_generator.state = state["frames_rng"]
        prior_s = float(state.get("train_s", 0.0))
    if frames is not None and config.readout_pretrain_focus and agent.pretrain_updates < config.readout_pretrain:
        # ranked only while pretraining remains: a resume past it skips reading D's rewards (~2.5 s for 1178 episodes)
        frames.focus(top_return_episodes(store, config.readout_pretrain_focus_top), config.readout_pretrain_focus)
    start, start_updates, start_pretrain = time.perf_counter(), agent.updates, agent.pretrain_updates

    def train_s() -> float:
        return prior_s + time.perf_counter() - start

    def save() -> None:
        state = agent.state_dict()
        state["sampler_rng"] = sampler.rng.bit_generator.state
        if frames is not None:
            state["frames_rng"] = frames.rng.bit_generator.state
        state["train_s"] = train_s()
        atomic_torch_save(state, ckpt)

    total = None if time_limit_s is not None else config.updates  # with a time limit the count rarely ends it
    bar = tqdm(total=total, initial=agent.updates, desc="distil student", unit="upd", disable=not progress)
    sums: dict[str, float] = {}
    on_time = False
    pretrain_loss: list[float] = []  # this call's read-out pretraining losses
    with MetricsLogger(out_dir) as log:
        while frames is not None and agent.pretrain_updates < config.readout_pretrain:
            if time_limit_s is not None and train_s() >= time_limit_s:
                on_time = True
                break
            pretrain_loss.append(agent.pretrain_update(frames.sample(config.readout_pretrain_batch)))
            done = agent.pretrain_updates
            if done % config.checkpoint_every == 0 or done == config.readout_pretrain:
                save()
        if frames is not None and not shared:
            frames.clear_cache()
        while not on_time and agent.updates < config.updates:
            if time_limit_s is not None and train_s() >= time_limit_s:
                on_time = True
                break
            metrics = agent.update(sampler.sample(config.batch_size))
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(1)
            if agent.updates % config.log_every == 0 or agent.updates == config.updates:
                n = config.log_every if agent.updates % config.log_every == 0 else agent.updates % config.log_every
                avg = {k: v / n for k, v in sums.items()}
                log.log(agent.updates, avg)
                bar.set_postfix(loss=f"{avg['distill/loss']:.2f}")
                sums = {}
            if agent.updates % config.checkpoint_every == 0 or agent.updates == config.updates:
                save()
        if on_time and (agent.updates > start_updates or agent.pretrain_updates > start_pretrain):
            # stopped between checkpoints: keep what was learned
            if sums:
                log.log(agent.updates, {k: v / (agent.updates % config.log_every) for k, v in sums.items()})
            save()
    bar.close()
    clock: dict[str, Any] = {"distill_s": train_s(), "distill_stopped_on_time": on_time}
    clock["distill_updates_done"] = agent.updates
    if config.readout_pretrain:
        clock["readout_pretrain_done"] = agent.pretrain_updates
        if len(pretrain_loss) >= 100:  # this call's last 100 read-out losses
            clock["readout_pretrain_final_loss"] = float(np.mean(pretrain_loss[-100:]))
    return agent, clock


def top_return_episodes(store: EpisodeStore, share: float) -> list[Path]:
    """The ``ceil(share * len(store))`` episodes of ``store`` with the highest returns (at least one), best first.

    Reads only each episode's ``reward`` (an ``.npz`` loads its arrays lazily). An episode that fails to load is
    set aside by the store and left out.
    """
    returns: list[tuple[float, Path]] = []
    for path in store.paths:
        try:
            returns.append((float(load_episode(path, ("reward",))["reward"].sum()), path))
        except EPISODE_LOAD_ERRORS as e:
            store.set_aside(path, e)
    returns.sort(key=lambda rp: -rp[0])
    return [p for _, p in returns[: max(1, math.ceil(share * len(returns)))]]


def train_teacher(
    env_id: str,
    run_dir: str | Path,
    preset: str = "cpu",
    seed: int = 0,
    teacher_steps: int | None = None,
    resume: bool = True,
    max_episode_steps: int | None = None,
    progress: bool = True,
    loop_overrides: Mapping[str, Any] | None = None,
    budget_s: float = 0.0,
    teacher_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    teacher_env_kwargs: Mapping[str, Any] | None = None,
) -> Path:
    """TWIST's first stage: the state teacher, trained in ``run_dir/teacher`` on the paired env.

    It makes Alg. 1's inputs (line 1): the teacher world model and actor, and the dataset D, which is the
    teacher's stored episodes (state and the domain-randomised pixels side by side). Once the teacher's loop ends,
    ``summary.json`` gets the stage's clock (``teacher_s``, ``teacher_eval_s``, ``teacher_env_steps``,
    ``teacher_budget_s``, ``teacher_budget_exhausted``) and ``teacher/DONE`` is written; a teacher with ``DONE`` is
    not trained again. Without ``DONE`` a call resumes the stored run, so a teacher copied without it and called
    with a larger ``budget_s`` trains on (the loop's clock accumulates).

    Args:
        env_id: a simulated id with paired observations.
        run_dir: the TWIST run directory; the teacher trains in its ``teacher/``.
        preset: ``debug`` / ``cpu`` / ``paper``: sizes of the teacher and its loop.
        seed: seed of the teacher and its envs.
        teacher_steps: env steps of the teacher (default: the preset's).
        resume: continue the stored teacher run (its checkpoint and every stored episode).
        max_episode_steps: shorter episodes for training (``None``: the env's).
        progress: a progress bar.
        loop_overrides: the teacher's :class:`~twist_agents.training.loop.LoopConfig` fields to replace (its
            ``budget_s`` is ``budget_s``).
        budget_s: the teacher's training wall-clock budget in seconds (all resumes together); 0 = none.
        teacher_overrides: fields of the teacher's Dreamer config to replace, by sub-config (as
            :func:`train_twist`'s).
        teacher_env_kwargs: extra ``gym.make`` keywords of the teacher's training env and its in-loop evaluations.

    Returns:
        The teacher's directory, ``run_dir/teacher``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    env_kwargs: dict[str, Any] = {"obs_mode": "paired", "randomization": "train", **(teacher_env_kwargs or {})}
    if max_episode_steps is not None:
        env_kwargs["max_episode_steps"] = max_episode_steps
    teacher_dir = run_dir / "teacher"
    done = teacher_dir / "DONE"
    if done.exists():
        return teacher_dir
    result = train_dreamer(
        env_id,
        agent="oracle",
        preset=preset,
        seed=seed,
        steps=teacher_steps,
        run_dir=teacher_dir,
        resume=resume,
        env_kwargs=env_kwargs,
        # The teacher reads only state: evaluate it without rendering.
        eval_env_kwargs={**env_kwargs, "obs_mode": "state"},
        loop_overrides={"progress": progress, **(loop_overrides or {}), "budget_s": budget_s},
        agent_overrides=teacher_overrides,
    )
    summary = read_summary(run_dir)
    summary.update(
        teacher_s=result["train_s"],
        teacher_eval_s=result["eval_s"],
        teacher_env_steps=result["env_steps"],
        teacher_budget_s=budget_s,
        teacher_budget_exhausted=result["budget_exhausted"],
    )
    write_summary(run_dir, summary)  # before DONE: a finished teacher always has its clock on disk
    done.write_text("teacher finished\n")
    return teacher_dir


TEACHER_SHARE = 2 / 3
"""The teacher's share of a TWIST run's wall-clock budget (:func:`train_twist`); distillation gets the rest."""


def train_twist(
    env_id: str = DEMO_ENV,
    run_dir: str | Path = "runs/twist",
    preset: str = "cpu",
    seed: int = 0,
    teacher_steps: int | None = None,
    distill_updates: int | None = None,
    resume: bool = True,
    max_episode_steps: int | None = None,
    progress: bool = True,
    distill_overrides: Mapping[str, Any] | None = None,
    loop_overrides: Mapping[str, Any] | None = None,
    budget_s: float = 0.0,
    teacher_share: float = TEACHER_SHARE,
    teacher_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    teacher_env_kwargs: Mapping[str, Any] | None = None,
) -> TwistAgent:
    """Train the teacher, then distil the student; returns the deployable :class:`TwistAgent`.

    With a wall-clock budget (``budget_s``) the teacher's loop gets ``teacher_share`` of it (its training wall
    clock, periodic evaluations excluded: :class:`~twist_agents.training.loop.LoopConfig`'s ``budget_s``), and
    distillation gets the rest: ``budget_s`` minus what the teacher used, so time the teacher did not use goes
    to the student. The dataset D is the teacher's own stored history (no separate recording stage). Both clocks
    accumulate across resumes, so a resumed run whose budget is spent trains no further. ``summary.json`` keeps
    each stage's clock (``teacher_s``, ``teacher_eval_s``, ``distill_s``, their sum ``train_s``) and whether the
    budget ended each stage (``teacher_budget_exhausted``, ``budget_exhausted``).

    Args:
        env_id: a simulated id with paired observations (e.g. ``TWIST/CartpoleBalance-Distracting-v0``).
        run_dir: run directory (see the module docstring).
        preset: ``debug`` / ``cpu`` / ``paper``: sizes of the teacher, its loop, and the distillation.
        seed: seed of everything.
        teacher_steps: env steps of the teacher (default: the preset's).
        distill_updates: student updates (default: the preset's).
        resume: continue whatever stage a previous (killed) call left unfinished.
        max_episode_steps: shorter episodes for training (``None``: the env's).
        progress: progress bars.
        distill_overrides: :class:`DistillConfig` fields to replace (e.g. the ablation ``{"imagined": False}``).
        loop_overrides: the teacher's :class:`~twist_agents.training.loop.LoopConfig` fields to replace (its
            ``budget_s`` is this function's to set).
        budget_s: training wall-clock budget of the whole run in seconds; 0 = none (steps and updates end it).
        teacher_share: the teacher's part of ``budget_s``, in (0, 1).
        teacher_overrides: fields of the teacher's Dreamer config to replace, by sub-config, as
            :func:`~twist_agents.dreamer.trainer.train_dreamer`'s ``agent_overrides`` (e.g.
            ``{"world_model": {"standardize_vectors": True}}``).
        teacher_env_kwargs: extra ``gym.make`` keywords of the teacher's training env and its in-loop evaluations
            (e.g. ``{"contact_force_limit": 30.0}``); its episodes, and so the student's dataset D, come from it.

    Raises:
        ValueError: ``budget_s`` is not a finite number >= 0, or ``teacher_share`` is not in (0, 1).
    """
    if not budget_s >= 0 or budget_s == float("inf"):
        raise ValueError(f"train_twist: budget_s must be a finite number >= 0 (0 = no budget), got {budget_s}")
    if not 0 < teacher_share < 1:
        raise ValueError(f"train_twist: teacher_share must be in (0, 1), got {teacher_share}")
    run_dir = Path(run_dir)
    # The teacher gets most of a budget: it is a whole Dreamer run (env interaction, rendering the paired pixels
    # that become D, world-model and actor-critic updates), and the student can be no better than the teacher it
    # copies. Distillation needs no env interaction and no actor-critic, and saturates early on this machine
    # (distill_config("cpu"): best held-out returns after ~500 updates, no gain from more).
    train_teacher(
        env_id,
        run_dir,
        preset,
        seed,
        teacher_steps=teacher_steps,
        resume=resume,
        max_episode_steps=max_episode_steps,
        progress=progress,
        loop_overrides=loop_overrides,
        budget_s=budget_s * teacher_share,
        teacher_overrides=teacher_overrides,
        teacher_env_kwargs=teacher_env_kwargs,
    )
    teacher_dir = run_dir / "teacher"
    ckpt = latest_checkpoint(teacher_dir)
    if ckpt is None:
        raise FileNotFoundError(f"train_twist: the teacher run in {teacher_dir} has no checkpoint")
    teacher_s = read_summary(run_dir).get("teacher_s")
    if teacher_s is None:  # a run finished before the stage clocks were kept: the checkpoint's loop counters
        counters = torch.load(ckpt / "loop.pt", weights_only=False)["counters"]
        teacher_s = float(counters["wall_s"]) - float(counters.get("eval_s", 0.0))
    teacher = DreamerAgent.from_checkpoint(ckpt / "agent.pt")
    cfg = distill_config(preset, **(distill_overrides or {}))
    if distill_updates is not None:
        cfg = dataclasses.replace(cfg, updates=distill_updates)
    final = run_dir / "twist_agent.pt"
    if resume and final.exists() and TwistAgent.from_checkpoint(final).updates >= cfg.updates:
        return TwistAgent.from_checkpoint(final)  # everything finished before
    time_limit = budget_s - teacher_s if budget_s else None  # the rest of the budget, unused teacher time included
    agent, clock = _distil(
        teacher, teacher_dir / "episodes", run_dir / "student", cfg, seed, resume, progress, time_limit
    )
    agent.save(run_dir / "twist_agent.pt")
    summary = read_summary(run_dir)
    summary.update(
        {
            "env_id": env_id,
            "preset": preset,
            "seed": seed,
            "distill": dataclasses.asdict(cfg),
            "budget_s": budget_s,
            "teacher_share": teacher_share,
            "distill_budget_s": time_limit,
            **clock,
            "train_s": teacher_s + clock["distill_s"],
            "budget_exhausted": clock["distill_stopped_on_time"],
        }
    )
    write_summary(run_dir, summary)
    return agent


def load_twist(run_dir: str | Path, device: str = "cpu") -> TwistAgent:
    """The deployable :class:`TwistAgent` of a finished :func:`train_twist` run."""
    path = Path(run_dir) / "twist_agent.pt"
    if not path.exists():
        raise FileNotFoundError(f"load_twist: {path} missing: the run has not finished distillation")
    return TwistAgent.from_checkpoint(path, device=device)


def read_summary(run_dir: Path) -> dict[str, Any]:
    """The run's ``summary.json`` (returns and wall-clock of each stage), ``{}`` if it has none yet."""
    f = run_dir / "summary.json"
    return json.loads(f.read_text()) if f.exists() else {}


def write_summary(run_dir: Path, summary: Mapping[str, Any]) -> None:
    """Write the run's ``summary.json`` atomically (a killed run leaves the old file or the new one)."""
    text = json.dumps(summary, indent=2).encode()
    atomic_write(run_dir / "summary.json", lambda f: f.write(text))


def evaluate_twist(
    agent: TwistAgent, env_id: str, episodes: int = 5, seed: int = 1000, progress: bool = True
) -> dict[str, Any]:
    """Returns of the student (pixels, held-out test appearances), the teacher (state) and a random policy.

    Returns:
        ``{"student": [...], "teacher": [...], "random": [...], "eval_s": seconds}``.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    jobs = [
        ("student", agent, {"obs_mode": "pixels", "randomization": "test"}),
        ("teacher", agent.teacher, {"obs_mode": "state", "randomization": "none"}),
        ("random", None, {"obs_mode": "state", "randomization": "none"}),
    ]
    for name, who, kwargs in tqdm(jobs, desc="evaluate", disable=not progress):
        env = make_env(env_id, seed, **kwargs)
        try:
            who = who if who is not None else RandomAgent(env.action_space, seed)
            out[name] = episode_returns(who, env, episodes, seed)  # type: ignore[arg-type]
        finally:
            env.close()
    out["eval_s"] = time.perf_counter() - t0
    return out


def twist_from_teacher(
    teacher_path: str | Path,
    env_id: str = DEMO_ENV,
    run_dir: str | Path = "runs/twist",
    preset: str = "cpu",
    seed: int = 0,
    dataset_steps: int = 10_000,
    distill_updates: int | None = None,
    progress: bool = True,
    distill_overrides: Mapping[str, Any] | None = None,
    action_noise: tuple[float, float] = (0.0, 0.0),
) -> TwistAgent:
    """TWIST from a trained teacher checkpoint: collect D with the teacher, then distil (resumable).

    ``run_dir/teacher/agent.pt`` keeps a copy of the teacher, ``run_dir/teacher/episodes`` the dataset
    (:func:`collect_dataset`); the student and the summary are laid out as in :func:`train_twist`.
    """
    run_dir = Path(run_dir)
    teacher_dir = run_dir / "teacher"
    teacher_dir.mkdir(parents=True, exist_ok=True)
    teacher = DreamerAgent.from_checkpoint(teacher_path)
    if not (teacher_dir / "agent.pt").exists():
        teacher.save(teacher_dir / "agent.pt")
    cfg = distill_config(preset, **(distill_overrides or {}))
    if distill_updates is not None:
        cfg = dataclasses.replace(cfg, updates=distill_updates)
    final = run_dir / "twist_agent.pt"
    if final.exists() and TwistAgent.from_checkpoint(final).updates >= cfg.updates:
        return TwistAgent.from_checkpoint(final)
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    collect_dataset(
        teacher, env_id, teacher_dir / "episodes", dataset_steps, seed, progress=progress, action_noise=action_noise
    )
    timing["dataset_s"] = time.perf_counter() - t0
    agent, clock = _distil(teacher, teacher_dir / "episodes", run_dir / "student", cfg, seed, True, progress, None)
    timing["distill_s"] = clock["distill_s"]
    agent.save(final)
    summary = read_summary(run_dir)
    summary.update(
        {
            "env_id": env_id,
            "preset": preset,
            "seed": seed,
            "teacher": str(teacher_path),
            "teacher_s": 0.0,
            "dataset_steps": dataset_steps,
            "dataset_action_noise": list(action_noise),
            "distill": dataclasses.asdict(cfg),
            **timing,
        }
    )
    write_summary(run_dir, summary)
    return agent


__all__ = [
    "TEACHER_SHARE",
    "RandomAgent",
    "collect_dataset",
    "distil",
    "evaluate_twist",
    "load_twist",
    "read_summary",
    "shipped_teacher",
    "train_teacher",
    "train_twist",
    "twist_from_teacher",
    "write_summary",
]
