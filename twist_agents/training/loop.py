"""The generic training loop for agents that learn from the on-disk episode store.

One loop, readable top to bottom (:func:`train`)::

    resume?  -> load the newest checkpoint (agent, counters, RNG states); keep every stored episode
    until env_steps >= steps:
        reset the env (seed derived from the episode index, so a resumed run stays reproducible)
        step it: random actions while env_steps < prefill, then agent.act(explore=True)
        after each step: run agent.update(batch) until updates / replayed steps match train_ratio
        at the episode's end: store it (atomically), log, evaluate and checkpoint when due
        with a budget (``budget_s``): after every step, once the training wall clock reaches it, end the
        episode there as a truncation, store it, checkpoint and stop

Wall-clock budget: ``LoopConfig.budget_s`` bounds the run's *training* wall clock, i.e. the loop's elapsed time
minus the time spent in its periodic evaluations (the learning-curve points, counted in ``eval_s``). Both clocks
are loop counters saved in every checkpoint, so the budget accumulates across resumes (a killed run loses the
time since its last checkpoint, as it loses the unfinished episode). The budget is also checked before each
new episode: a resumed run whose budget is spent stops without one, and a run whose budget ran out while its
last episode was being stored checkpoints, then stops. The episode cut by the budget is stored with ``is_last=True`` and
``is_terminal=False`` on its last row: a time-limit truncation, exactly as an env's own step cap ends one.

Checkpoints are taken at episode ends only, so a checkpoint's step counter equals the steps of
the episodes stored before it; episodes finished after the last checkpoint stay on disk and are
counted and used on resume. A SIGKILL loses at most the unfinished episode.

Damaged run files (a disk error, a truncated copy) are named in a warning and set aside, never deleted:
a checkpoint that fails to load goes to ``checkpoints/corrupt/`` and the previous one is used (at least
two are kept); an episode that fails to load goes to ``episodes/corrupt/`` and the counters are
recomputed from the episodes that load.

Run directory::

    run_dir/config.json            agent + loop config, env id and kwargs
    run_dir/episodes/*.npz         every finished episode (all keys the env returns)
    run_dir/checkpoints/ckpt-<env_steps>/{agent.pt, loop.pt}   last ``keep_checkpoints`` (>= 2) kept
    run_dir/metrics.csv            wide: step (env steps), then one column per metric (``MetricsLogger``)
    run_dir/tb/                    TensorBoard events (same scalars)
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from twist_agents.data import EpisodeStore, SequenceSampler
from twist_agents.protocol import Agent
from twist_agents.training.checkpoints import load_newest_checkpoint, save_checkpoint
from twist_agents.training.episodes import append_row, as_obs_dict, episode_seed
from twist_agents.training.evaluate import episode_returns
from twist_agents.training.metrics import MetricsLogger


@dataclass(frozen=True)
class LoopConfig:
    """Training-loop settings (env interaction, replay, evaluation, checkpoints)."""

    steps: int = 500_000
    """Total env steps (agent steps, i.e. after action repeat) to train for."""
    prefill: int = 2500
    """Env steps with uniformly random actions before the agent acts and learns."""
    prefill_expert: float = 0.0
    """Share of the prefill episodes driven by the env's own scripted controller (``env.unwrapped.expert_action()``,
    e.g. the Franka sim's) plus Gaussian noise, instead of random actions; 0 (every preset) = the paper's random
    prefill. Not in the paper: demonstrations in the replay for tasks whose success random exploration rarely
    reaches; the agent still learns only from rewards."""
    prefill_expert_noise: float = 0.3
    """Standard deviation of the Gaussian noise added to the expert's actions (in [-1, 1] action units)."""
    train_ratio: float = 512.0
    """Replayed time steps (``batch_size * seq_len`` per update) per env step (DreamerV3's definition)."""
    batch_size: int = 16
    """Sequences per update."""
    seq_len: int = 64
    """Length of each sampled sequence."""
    eval_every: int = 10_000
    """Evaluate (explore=False) every this many env steps (at the next episode end); 0 disables."""
    eval_episodes: int = 5
    """Episodes per evaluation."""
    checkpoint_every: int = 10_000
    """Checkpoint every this many env steps (at the next episode end)."""
    keep_checkpoints: int = 2
    """How many of the newest checkpoints to keep."""
    log_every: int = 1000
    """Average and write training metrics every this many env steps."""
    cache_episodes: int = 200
    """Episodes the sampler keeps in RAM."""
    seed: int = 0
    """Seeds the env resets, random prefill actions, replay sampling and torch."""
    progress: bool = True
    """Show a tqdm progress bar."""
    tensorboard: bool = True
    """Also write TensorBoard events to ``run_dir/tb``."""
    budget_s: float = 0.0
    """Training wall-clock budget in seconds, accumulated across resumes, excluding the periodic evaluations;
    0 = none (only ``steps`` ends the run). See the module docstring."""


LOOP_PRESETS: dict[str, LoopConfig] = {
    # Tests: tiny batches, learning starts almost at once.
    "debug": LoopConfig(
        steps=5000,
        prefill=500,
        train_ratio=64.0,
        batch_size=8,
        seq_len=32,
        eval_every=2000,
        eval_episodes=2,
        checkpoint_every=1000,
        log_every=250,
        cache_episodes=50,
    ),
    # This machine (2 CPU cores): one update (16 x 64 steps) per 8 env steps. 64-step sequences
    # (DreamerV3's length) start the RSSM from zeros less often than 16-step ones, which narrows the gap
    # to acting, where the recurrence runs for a whole 500-step episode.
    "cpu": LoopConfig(
        steps=50_000,
        prefill=1000,
        train_ratio=128.0,
        batch_size=16,
        seq_len=64,
        eval_every=2500,
        eval_episodes=3,
        checkpoint_every=2500,
        log_every=500,
        cache_episodes=100,
    ),
    # The paper's scale (DreamerV3 DMC defaults).
    "paper": LoopConfig(),
}
"""Loop settings per preset (:data:`~twist_agents.presets.PRESETS`); the Dreamer trainer pairs each with the
agent config of the same name."""


def _expert_of(env: gym.Env, config: LoopConfig) -> Callable[[], np.ndarray] | None:
    """The env's scripted controller when ``config.prefill_expert > 0``, else None; a clear error if it has none."""
    if not 0.0 <= config.prefill_expert <= 1.0:
        raise ValueError(f"train: prefill_expert must be a share in [0, 1], got {config.prefill_expert}")
    if not config.prefill_expert_noise >= 0.0:
        raise ValueError(f"train: prefill_expert_noise must be >= 0, got {config.prefill_expert_noise}")
    if config.prefill_expert == 0.0:
        return None
    expert = getattr(env.unwrapped, "expert_action", None)
    if not callable(expert):
        raise ValueError(
            f"train: prefill_expert={config.prefill_expert} needs an env with an expert_action() method (the Franka "
            f"sim envs have one); {type(env.unwrapped).__name__} has none: set prefill_expert=0"
        )
    return expert


def train(
    agent: Agent,
    env: gym.Env,
    run_dir: str | Path,
    config: LoopConfig,
    eval_env: gym.Env | None = None,
    resume: bool = False,
    run_info: Mapping[str, Any] | None = None,
    on_episode: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``agent`` on ``env``, storing every episode under ``run_dir/episodes``.

    Args:
        agent: any :class:`~twist_agents.protocol.Agent` whose ``update`` takes ``(B, T, ...)`` sequences
            (if it has a ``batch_keys`` attribute, only those keys are read from disk).
        env: the training env (``Dict`` or ``Box`` observations, ``Box`` actions).
        run_dir: the run directory (see the module docstring).
        config: loop settings.
        eval_env: env for evaluation (default: no evaluation).
        resume: continue from the newest checkpoint and the stored episodes. Without it, a run
            directory that already holds episodes is an error (nothing is overwritten).
        run_info: extra JSON-able info for ``config.json`` (agent config, env id, ...).
        on_episode: called with a summary dict after every training episode (e.g. for a UI).

    Returns:
        Summary: ``env_steps``, ``updates``, ``episodes``, ``wall_s`` (the loop's wall clock, all resumes),
        ``eval_s`` (of it, in periodic evaluations), ``train_s`` (``wall_s - eval_s``: what ``budget_s`` bounds),
        ``budget_exhausted`` (the budget, not ``steps``, ended training), ``eval_returns`` (last evaluation).

    Raises:
        FileExistsError: ``run_dir`` holds episodes and ``resume`` is false.
    """
    expert = _expert_of(env, config)  # before anything is written: a config error leaves no trace
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    store = EpisodeStore(run_dir / "episodes")
    if len(store) and not resume:
        raise FileExistsError(f"train: {run_dir} already holds {len(store)} episodes; pass resume=True to continue")

    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    if not config.budget_s >= 0 or config.budget_s == float("inf"):
        raise ValueError(f"train: budget_s must be a finite number >= 0 (0 = no budget), got {config.budget_s}")
    loop: dict[str, Any] = {
        "env_steps": 0,
        "updates": 0,
        "episodes": 0,
        "wall_s": 0.0,
        "eval_s": 0.0,
        "eval_index": 0,
    }

    def restore(ckpt: Path) -> None:
        agent.load(ckpt / "agent.pt")
        saved = torch.load(ckpt / "loop.pt", weights_only=False)
        counters = {**loop, **saved["counters"]}
        rng.bit_generator.state = saved["numpy_rng"]
        torch.set_rng_state(saved["torch_rng"])
        loop.update(counters)  # last: a checkpoint that fails half-way leaves the counters alone

    if resume:
        load_newest_checkpoint(run_dir, restore)  # a torn one is reported, set aside, the previous one used
    # Step counters follow the stored episodes that load: episodes finished after the checkpoint are real
    # experience (counted and kept); an episode set aside as damaged no longer counts (a checkpoint's step
    # count equals the steps stored before it, so with intact files this changes nothing).
    loop["env_steps"] = store.num_steps
    loop["episodes"] = len(store)
    info = {"loop": dataclasses.asdict(config), **(dict(run_info) if run_info else {})}
    (run_dir / "config.json").write_text(json.dumps(info, indent=2, default=str))

    sampler = SequenceSampler(
        store,
        config.seq_len,
        keys=getattr(agent, "batch_keys", None),
        cache_size=config.cache_episodes,
        rng=rng,
    )
    writer = MetricsLogger(run_dir, config.tensorboard)
    low, high = env.action_space.low, env.action_space.high  # type: ignore[attr-defined]
    replay_per_update = config.batch_size * config.seq_len
    next_eval = (loop["env_steps"] // config.eval_every + 1) * config.eval_every if config.eval_every else None
    next_ckpt = (loop["env_steps"] // config.checkpoint_every + 1) * config.checkpoint_every
    next_log = (loop["env_steps"] // config.log_every + 1) * config.log_every
    train_metrics: dict[str, list[float]] = defaultdict(list)
    last_eval: list[float] = []
    saved_episodes = loop["episodes"]  # episodes stored when the last checkpoint was taken (or found)
    exhausted = False  # the budget ended training (decided afresh by every call: a resume may bring a larger one)
    t0 = time.time() - loop["wall_s"]

    bar = None
    if config.progress:
        from tqdm import tqdm

        # With a budget the step count is a cap that rarely ends the run: no misleading total.
        total = None if config.budget_s else config.steps
        bar = tqdm(total=total, initial=loop["env_steps"], unit="step", dynamic_ncols=True)

    def train_s() -> float:
        """Training wall clock so far (all resumes): elapsed minus periodic evaluation."""
        return time.time() - t0 - loop["eval_s"]

    def budget_spent() -> bool:
        return bool(config.budget_s) and train_s() >= config.budget_s

    def progress() -> dict[str, float]:
        return {"updates": float(loop["updates"]), "wall_s": time.time() - t0, "train_s": train_s()}

    def checkpoint() -> None:
        nonlocal saved_episodes
        loop["wall_s"] = time.time() - t0
        state = {
            "counters": dict(loop),
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        save_checkpoint(run_dir, agent, state, config.keep_checkpoints)
        saved_episodes = loop["episodes"]

    try:
        while loop["env_steps"] < config.steps:
            if budget_spent():  # no new episode: a resumed run whose budget is spent, or the budget ran out
                exhausted = True  # after the last episode's step (storing, logging, a callback)
                if loop["episodes"] > saved_episodes:
                    checkpoint()
                break
            obs = as_obs_dict(env.reset(seed=episode_seed(config.seed, loop["episodes"]))[0])
            episode: dict[str, list[Any]] = defaultdict(list)

            append_row(episode, obs, np.zeros(low.shape, np.float32), 0.0, True, False, False)
            agent_state, done, ep_return = None, False, 0.0
            # Drawn only when demonstrations are asked for, so that runs without them keep their random streams.
            demo = expert is not None and loop["env_steps"] < config.prefill and rng.random() < config.prefill_expert
            while not done:
                if loop["env_steps"] < config.prefill:
                    if demo:
                        noise = rng.normal(0.0, config.prefill_expert_noise, low.shape)
                        action = np.clip(expert() + noise, low, high).astype(np.float32)  # type: ignore[misc]
                    else:
                        action = rng.uniform(low, high).astype(np.float32)
                else:
                    action, agent_state = agent.act(obs, agent_state, True)
                next_obs, reward, terminated, truncated, _ = env.step(action)
                obs = as_obs_dict(next_obs)
                done = bool(terminated or truncated)
                norm_action = (2.0 * (action - low) / (high - low) - 1.0).astype(np.float32)
                append_row(episode, obs, norm_action, float(reward), False, done, bool(terminated))
                ep_return += float(reward)
                loop["env_steps"] += 1
                if bar is not None:
                    bar.update(1)

                # Train ratio: keep (updates * B * T) ~= (env steps after prefill) * train_ratio.
                if loop["env_steps"] >= config.prefill and len(store):
                    due = (loop["env_steps"] - config.prefill) * config.train_ratio / replay_per_update
                    while loop["updates"] < due:
                        for k, v in agent.update(sampler.sample(config.batch_size)).items():
                            train_metrics[k].append(v)
                        loop["updates"] += 1

                if loop["env_steps"] >= next_log:
                    scalars = {k: float(np.mean(v)) for k, v in train_metrics.items()}
                    scalars["train/fps"] = loop["env_steps"] / max(time.time() - t0, 1e-9)
                    writer.log(loop["env_steps"], {**scalars, **progress()})
                    train_metrics.clear()
                    next_log += config.log_every

                if not done and budget_spent():
                    # The budget ends the episode here: a truncation (is_last, not is_terminal), so the stored
                    # episode is as valid as one cut by the env's own step cap.
                    episode["is_last"][-1] = True
                    done = exhausted = True
                elif done and budget_spent():
                    exhausted = True

            store.add({k: np.stack(v) for k, v in episode.items()})
            loop["episodes"] += 1
            summary = {"train/return": ep_return, "train/length": len(episode["reward"]) - 1}
            writer.log(loop["env_steps"], {**summary, **progress()})
            if bar is not None:
                bar.set_postfix(ret=f"{ep_return:.1f}", upd=loop["updates"])
            if on_episode is not None:
                on_episode({**summary, **loop})

            if next_eval is not None and eval_env is not None and loop["env_steps"] >= next_eval:
                t_eval = time.time()
                last_eval = episode_returns(agent, eval_env, config.eval_episodes, config.seed, loop["eval_index"])
                loop["eval_s"] += time.time() - t_eval  # not training time: outside the budget
                loop["eval_index"] += config.eval_episodes
                writer.log(
                    loop["env_steps"],
                    {
                        "eval/return": float(np.mean(last_eval)),
                        "eval/return_std": float(np.std(last_eval)),
                        **progress(),
                    },
                )
                next_eval = (loop["env_steps"] // config.eval_every + 1) * config.eval_every
            if loop["env_steps"] >= next_ckpt or loop["env_steps"] >= config.steps or exhausted:
                checkpoint()
                next_ckpt = (loop["env_steps"] // config.checkpoint_every + 1) * config.checkpoint_every
            if exhausted:
                break
    finally:
        writer.close()
        if bar is not None:
            bar.close()
    loop["wall_s"] = time.time() - t0
    train_s_total = loop["wall_s"] - loop["eval_s"]
    return {
        **loop,
        "train_s": train_s_total,
        "budget_exhausted": exhausted,
        "eval_returns": last_eval,
        "run_dir": str(run_dir),
    }
