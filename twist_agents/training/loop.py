"""A generic training loop for agents that learn from the on-disk episode store, and ``train_dreamer``.

One loop, readable top to bottom (:func:`train`)::

    resume?  -> load the newest checkpoint (agent, counters, RNG states); keep every stored episode
    until env_steps >= steps:
        reset the env (seed derived from the episode index, so a resumed run stays reproducible)
        step it: random actions while env_steps < prefill, then agent.act(explore=True)
        after each step: run agent.update(batch) until updates / replayed steps match train_ratio
        at the episode's end: store it (atomically), log, evaluate and checkpoint when due

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
    run_dir/metrics.csv            wide: step (env steps), then one column per metric (runner's MetricsLogger)
    run_dir/tb/                    TensorBoard events (same scalars)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
import torch

from twist_agents.data import EpisodeStore, SequenceSampler, move_aside
from twist_agents.errors import RunFileError, describe
from twist_agents.protocol import Agent
from twist_agents.runner.metrics import MetricsLogger

T = TypeVar("T")

AGENT_VARIANTS: dict[str, dict[str, Any]] = {
    "oracle": {"encode": ("state",), "decode": ("state",), "env_kwargs": {}},
    "dreamer-dr": {"encode": ("pixels",), "decode": ("pixels",), "env_kwargs": {"randomization": "train"}},
    "dreamer-nodr": {"encode": ("pixels",), "decode": ("pixels",), "env_kwargs": {"randomization": "none"}},
    "state-recon": {"encode": ("pixels",), "decode": ("state",), "env_kwargs": {"randomization": "train"}},
}
"""Dreamer variants (DESIGN.md): encode/decode keys and the env kwargs they imply."""


@dataclass(frozen=True)
class LoopConfig:
    """Training-loop settings (env interaction, replay, evaluation, checkpoints)."""

    steps: int = 500_000
    """Total env steps (agent steps, i.e. after action repeat) to train for."""
    prefill: int = 2500
    """Env steps with uniformly random actions before the agent acts and learns."""
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
"""Loop settings that go with each Dreamer preset of :func:`~twist_agents.dreamer.config.dreamer_config`."""


def as_obs_dict(obs: Any) -> dict[str, np.ndarray]:
    """Envs with a ``Dict`` observation pass through; a plain array becomes ``{"state": obs}``."""
    if isinstance(obs, Mapping):
        return {k: np.asarray(v) for k, v in obs.items()}
    return {"state": np.asarray(obs, np.float32)}


def obs_space_of(env: gym.Env) -> gym.spaces.Dict:
    """The env's observation space as a ``Dict`` (see :func:`as_obs_dict`)."""
    space = env.observation_space
    return space if isinstance(space, gym.spaces.Dict) else gym.spaces.Dict({"state": space})


def _episode_seed(seed: int, index: int, eval_: bool = False) -> int:
    # Distinct, reproducible reset seeds per episode; evaluation episodes use a disjoint stream.
    return int(np.random.SeedSequence([seed, index, int(eval_)]).generate_state(1)[0])


def evaluate(agent: Agent, env: gym.Env, episodes: int, seed: int, start_index: int = 0) -> list[float]:
    """Run ``episodes`` episodes with ``explore=False``; return their undiscounted returns."""
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=_episode_seed(seed, start_index + i, eval_=True))
        state, total, done = None, 0.0, False
        while not done:
            action, state = agent.act(as_obs_dict(obs), state, False)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


CORRUPT_DIR = "corrupt"
"""Sub-folder of ``checkpoints/`` that receives checkpoints that fail to load (nothing is deleted)."""
SUPERSEDED_DIR = "superseded"
"""Sub-folder of ``checkpoints/`` for checkpoints newer than the run's step count after episodes were set aside."""
MIN_KEEP_CHECKPOINTS = 2
"""Checkpoints kept at least, whatever ``keep_checkpoints`` says: a torn newest one always has a fallback."""

log = logging.getLogger(__name__)


def _checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint folders (``loop.pt`` is written last), oldest first."""
    ckpt_dir = run_dir / "checkpoints"
    if not ckpt_dir.exists():
        return []
    return sorted(p for p in ckpt_dir.iterdir() if p.name.startswith("ckpt-") and (p / "loop.pt").exists())


def _checkpoint_damage(ckpt: Path) -> str | None:
    """Why a checkpoint folder is unreadable judging by its files' zip directories (cheap), or ``None``.

    ``torch.save`` writes zip archives; a truncated file has no central directory at its end.
    """
    for name in ("agent.pt", "loop.pt"):
        try:
            with zipfile.ZipFile(ckpt / name):
                pass
        except (zipfile.BadZipFile, OSError) as e:
            return f"{name}: {type(e).__name__}: {e}"
    return None


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder of a run whose files look intact, or ``None``.

    A newer checkpoint whose ``agent.pt`` / ``loop.pt`` is torn (see :func:`_checkpoint_damage`) is
    reported as a warning and skipped, so callers get the previous one.
    """
    for ckpt in reversed(_checkpoints(Path(run_dir))):
        reason = _checkpoint_damage(ckpt)
        if reason is None:
            return ckpt
        log.warning("checkpoint %s does not load (%s); trying the previous one", ckpt, reason)
    return None


def load_newest_checkpoint(
    run_dir: str | Path, load: Callable[[Path], T], set_aside: bool = True
) -> tuple[Path, T] | None:
    """Call ``load(checkpoint_folder)`` on the newest checkpoint, falling back to older ones.

    A checkpoint whose ``load`` raises is reported (a warning with its path and the reason) and, with
    ``set_aside``, moved into ``checkpoints/corrupt/`` so that checkpoint rotation never deletes the good
    older one in its favour. Nothing is deleted.

    Args:
        run_dir: the run directory.
        load: reads one checkpoint folder (e.g. ``agent.load(folder / "agent.pt")``) and returns what it read.
        set_aside: move checkpoints that fail into ``checkpoints/corrupt/`` (training resumes); ``False``
            leaves the run untouched (evaluation).

    Returns:
        ``(folder, load(folder))`` of the newest checkpoint that loads, or ``None`` if the run has none.

    Raises:
        RunFileError: checkpoints exist but none of them loads (names each and why).
    """
    run_dir = Path(run_dir)
    failures: list[str] = []
    for ckpt in reversed(_checkpoints(run_dir)):
        try:
            return ckpt, load(ckpt)
        except Exception as e:  # noqa: BLE001  (any damage: torn zip, bad pickle, missing keys)
            reason = describe(e)
        failures.append(f"{ckpt.name}: {reason}")
        moved = move_aside(ckpt, ckpt.parent / CORRUPT_DIR) if set_aside else None
        log.warning(
            "checkpoint %s does not load (%s)%s; trying the previous one",
            ckpt,
            reason,
            f"; moved it to {moved}" if moved is not None else "",
        )
    if not failures:
        return None
    what_to_do = (
        f"they were moved to {run_dir / 'checkpoints' / CORRUPT_DIR}; run the same command again to retrain the "
        "agent from the stored episodes, or use a new run directory"
        if set_aside
        else "train the run again with `twist train` (it keeps the stored episodes)"
    )
    raise RunFileError(f"no checkpoint of {run_dir} loads ({'; '.join(failures)}); {what_to_do}")


def _save_checkpoint(run_dir: Path, agent: Agent, loop_state: dict[str, Any], keep: int) -> Path:
    """Write ``agent.pt`` + ``loop.pt`` into a temp folder, then rename it into place (atomic).

    Keeps the newest ``max(keep, MIN_KEEP_CHECKPOINTS)`` checkpoints. Checkpoints *newer* than this one
    (the run's step count went back because damaged episodes were set aside) are moved into
    ``checkpoints/superseded/``: left in place, they would sort as the newest and be resumed instead of this one.
    """
    ckpt_dir = run_dir / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / f"ckpt-{loop_state['counters']['env_steps']:010d}"
    tmp = ckpt_dir / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    agent.save(tmp / "agent.pt")
    torch.save(loop_state, tmp / "loop.pt")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if final.exists():  # same step count twice (e.g. final checkpoint right after a periodic one)
        shutil.rmtree(final)
    os.replace(tmp, final)
    for stale in [p for p in _checkpoints(run_dir) if p.name > final.name]:
        move_aside(stale, ckpt_dir / SUPERSEDED_DIR)
    for old in _checkpoints(run_dir)[: -max(keep, MIN_KEEP_CHECKPOINTS)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _append_row(
    episode: dict[str, list[Any]],
    obs: Mapping[str, np.ndarray],
    action: np.ndarray,
    reward: float,
    first: bool,
    last: bool,
    terminal: bool,
) -> None:
    """Append row ``t`` (see :mod:`twist_agents.data.store`): ``o_t`` and the transition that led to it."""
    for k, v in obs.items():
        episode[k].append(v)
    episode["action"].append(action)
    episode["reward"].append(np.float32(reward))
    episode["is_first"].append(first)
    episode["is_last"].append(last)
    episode["is_terminal"].append(terminal)


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
        Summary: ``env_steps``, ``updates``, ``episodes``, ``wall_s``, ``eval_returns`` (last evaluation).

    Raises:
        FileExistsError: ``run_dir`` holds episodes and ``resume`` is false.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    store = EpisodeStore(run_dir / "episodes")
    if len(store) and not resume:
        raise FileExistsError(f"train: {run_dir} already holds {len(store)} episodes; pass resume=True to continue")

    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    loop: dict[str, Any] = {"env_steps": 0, "updates": 0, "episodes": 0, "wall_s": 0.0, "eval_index": 0}

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
    t0 = time.time() - loop["wall_s"]

    bar = None
    if config.progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=loop["env_steps"], unit="step", dynamic_ncols=True)

    def progress() -> dict[str, float]:
        return {"updates": float(loop["updates"]), "wall_s": time.time() - t0}

    def save_checkpoint() -> None:
        loop["wall_s"] = time.time() - t0
        state = {
            "counters": dict(loop),
            "numpy_rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        _save_checkpoint(run_dir, agent, state, config.keep_checkpoints)

    try:
        while loop["env_steps"] < config.steps:
            obs = as_obs_dict(env.reset(seed=_episode_seed(config.seed, loop["episodes"]))[0])
            episode: dict[str, list[Any]] = defaultdict(list)

            _append_row(episode, obs, np.zeros(low.shape, np.float32), 0.0, True, False, False)
            agent_state, done, ep_return = None, False, 0.0
            while not done:
                if loop["env_steps"] < config.prefill:
                    action = rng.uniform(low, high).astype(np.float32)
                else:
                    action, agent_state = agent.act(obs, agent_state, True)
                next_obs, reward, terminated, truncated, _ = env.step(action)
                obs = as_obs_dict(next_obs)
                done = bool(terminated or truncated)
                norm_action = (2.0 * (action - low) / (high - low) - 1.0).astype(np.float32)
                _append_row(episode, obs, norm_action, float(reward), False, done, bool(terminated))
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

            store.add({k: np.stack(v) for k, v in episode.items()})
            loop["episodes"] += 1
            summary = {"train/return": ep_return, "train/length": len(episode["reward"]) - 1}
            writer.log(loop["env_steps"], {**summary, **progress()})
            if bar is not None:
                bar.set_postfix(ret=f"{ep_return:.1f}", upd=loop["updates"])
            if on_episode is not None:
                on_episode({**summary, **loop})

            if next_eval is not None and eval_env is not None and loop["env_steps"] >= next_eval:
                last_eval = evaluate(agent, eval_env, config.eval_episodes, config.seed, loop["eval_index"])
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
            if loop["env_steps"] >= next_ckpt or loop["env_steps"] >= config.steps:
                save_checkpoint()
                next_ckpt = (loop["env_steps"] // config.checkpoint_every + 1) * config.checkpoint_every
    finally:
        writer.close()
        if bar is not None:
            bar.close()
    loop["wall_s"] = time.time() - t0
    return {**loop, "eval_returns": last_eval, "run_dir": str(run_dir)}


# ---------------------------------------------------------------------------------------------- Dreamer
def make_env(env_id: str, seed: int | None = None, **kwargs: Any) -> gym.Env:
    """``gym.make`` after importing ``twist_envs`` (registers the ``TWIST/`` ids).

    ``env_id`` may also be ``"module:Id"`` (Gymnasium imports ``module`` first).
    """
    if env_id.startswith("TWIST/"):
        import twist_envs  # noqa: F401  (registers the ids)
    env = gym.make(env_id, **kwargs)
    if seed is not None:
        env.action_space.seed(seed)
    return env


def train_dreamer(
    env_id: str,
    agent: str = "oracle",
    preset: str = "cpu",
    seed: int = 0,
    steps: int | None = None,
    run_dir: str | Path = "runs/dreamer",
    resume: bool = False,
    env_kwargs: Mapping[str, Any] | None = None,
    eval_env_kwargs: Mapping[str, Any] | None = None,
    loop_overrides: Mapping[str, Any] | None = None,
    device: str = "cpu",
    agent_overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Train a Dreamer variant (Oracle, Dreamer +-DR, State Recon) end to end; the CLI's ``train``.

    Args:
        env_id: e.g. ``"TWIST/CartpoleBalance-Distracting-v0"``.
        agent: one of :data:`AGENT_VARIANTS` (``oracle``, ``dreamer-dr``, ``dreamer-nodr``, ``state-recon``).
        preset: ``debug`` / ``cpu`` / ``paper`` (agent sizes and loop settings).
        seed: seed of everything.
        steps: env steps (default: the preset's).
        run_dir: run directory.
        resume: continue a killed run (its ``config.json`` agent config is reused).
        env_kwargs: extra ``gym.make`` kwargs (e.g. ``{"obs_mode": "state", "max_episode_steps": 100}``).
            The default ``obs_mode`` is the env's (``"paired"``), so the Oracle's run also stores
            the pixels that TWIST distils from.
        eval_env_kwargs: kwargs of the evaluation env (default: ``env_kwargs``).
        loop_overrides: :class:`LoopConfig` fields to replace (e.g. ``{"checkpoint_every": 200}``).
        device: torch device.
        agent_overrides: fields of the preset's agent config to replace, by sub-config:
            ``{"behavior": {"imag_starts": 0}, "world_model": {"lr": 3e-4}}`` (for experiments).

    Returns:
        :func:`train`'s summary.
    """
    from twist_agents.dreamer import DreamerAgent, config_from_dict, dreamer_config

    if agent not in AGENT_VARIANTS:
        raise ValueError(f"train_dreamer: unknown agent {agent!r}; choose one of {sorted(AGENT_VARIANTS)}")
    if preset not in LOOP_PRESETS:
        raise ValueError(f"train_dreamer: unknown preset {preset!r}; choose one of {sorted(LOOP_PRESETS)}")
    variant = AGENT_VARIANTS[agent]
    kwargs = {**variant["env_kwargs"], **(env_kwargs or {})}
    if not env_id.startswith("TWIST/"):
        kwargs = dict(env_kwargs or {})  # foreign envs may not know our kwargs (randomization, ...)
    loop_cfg = dataclasses.replace(LOOP_PRESETS[preset], seed=seed, **(loop_overrides or {}))
    if steps is not None:
        loop_cfg = dataclasses.replace(loop_cfg, steps=steps)
    cfg = dreamer_config(preset, encode=variant["encode"], decode=variant["decode"], device=device)
    for part, fields in (agent_overrides or {}).items():
        cfg = dataclasses.replace(cfg, **{part: dataclasses.replace(getattr(cfg, part), **fields)})
    config_file = Path(run_dir) / "config.json"
    if resume and config_file.exists():
        try:
            cfg = dataclasses.replace(config_from_dict(json.loads(config_file.read_text())["agent"]), device=device)
        except (ValueError, KeyError, TypeError) as e:  # torn JSON: the preset gives the same agent config
            log.warning("%s does not load (%s); using the %r preset's agent config", config_file, describe(e), preset)

    env = make_env(env_id, seed, **kwargs)
    eval_env = make_env(env_id, seed, **(dict(eval_env_kwargs) if eval_env_kwargs is not None else kwargs))
    try:
        dreamer = DreamerAgent(cfg, obs_space_of(env), env.action_space, seed=seed)  # type: ignore[arg-type]
        info = {
            "agent": dataclasses.asdict(cfg),
            "variant": agent,
            "env_id": env_id,
            "env_kwargs": kwargs,
            "preset": preset,
            "seed": seed,
        }
        return train(dreamer, env, run_dir, loop_cfg, eval_env=eval_env, resume=resume, run_info=info)
    finally:
        env.close()
        eval_env.close()
