"""Dreamer training throughput at a preset: world-model updates/s and env steps/s, state and pixel variants.

    MUJOCO_GL=egl .venv/bin/python benchmarks/train.py [--preset cpu] [--threads 1] [--updates 10]

Measures, for the state Oracle (encode/decode ``state``) and pixel Dreamer (encode/decode ``pixels``):

- ``wm_updates_per_s``: world-model gradient steps alone (loss, backward, Adam) on ``(B, T)`` batches
  sampled from the episode store, as the training loop does;
- ``agent_updates_per_s``: full ``DreamerAgent.update`` (world model + imagination actor-critic);
- ``env_steps_per_s``: acting in the env with ``agent.act(explore=True)`` (the interaction part of
  the loop, env time included), and ``env_only_steps_per_s`` with random actions.
- ``loop_env_steps_per_s``: the training loop's steady-state rate at the preset's train ratio,
  ``1 / (1/env_steps_per_s + (updates per env step) / agent_updates_per_s)``.

And for TWIST (``--variants ... ,twist``): ``distill_updates_per_s`` of the student's distillation step (Eq. 3 +
Eq. 4, no decoder) at the distillation preset's batch, ``distill_updates_per_s_same_batch`` at the pixel Dreamer's
``(B, T)``, and ``pixel_wm_over_distill_cost``: how many distillation updates cost as much as one pixel
Dreamer world-model update on the same batch shape.

Writes ``benchmarks/results/train.json``. The machine is shared, so the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

ENV_ID = "TWIST/CartpoleBalance-Distracting-v0"
VARIANTS = {"state": (("state",), ("state",), "state"), "pixels": (("pixels",), ("pixels",), "pixels")}


def fill_store(env: gym.Env, directory: Path, steps: int, seed: int) -> None:
    """Store random-action episodes, as the loop's prefill does."""
    from collections import defaultdict

    from twist_agents.data import EpisodeStore
    from twist_agents.training.episodes import append_row

    store = EpisodeStore(directory)
    rng = np.random.default_rng(seed)
    done_steps = 0
    while done_steps < steps:
        obs, _ = env.reset(seed=int(rng.integers(1 << 30)))
        ep: dict[str, list] = defaultdict(list)
        append_row(ep, obs, np.zeros(env.action_space.shape, np.float32), 0.0, True, False, False)
        done = False
        while not done:
            a = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            obs, r, term, trunc, _ = env.step(a)
            done = term or trunc
            append_row(ep, obs, a, float(r), False, done, term)
            done_steps += 1
        store.add({k: np.stack(v) for k, v in ep.items()})


def bench_variant(name: str, preset: str, n_updates: int, n_env: int, seed: int = 0) -> dict[str, float]:
    import twist_envs  # noqa: F401
    from twist_agents.data import EpisodeStore, SequenceSampler
    from twist_agents.dreamer import DreamerAgent, dreamer_config
    from twist_agents.training.loop import LOOP_PRESETS

    encode, decode, obs_mode = VARIANTS[name]
    loop = LOOP_PRESETS[preset]
    env = gym.make(ENV_ID, obs_mode=obs_mode, max_episode_steps=100)
    cfg = dreamer_config(preset, encode=encode, decode=decode)
    agent = DreamerAgent(cfg, env.observation_space, env.action_space, seed=seed)
    result: dict[str, float] = {"batch_size": loop.batch_size, "seq_len": loop.seq_len, "train_ratio": loop.train_ratio}

    # Env alone, then acting + env.
    env.reset(seed=seed)
    t = time.perf_counter()
    for _ in range(n_env):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    result["env_only_steps_per_s"] = n_env / (time.perf_counter() - t)
    obs, _ = env.reset(seed=seed)
    state = None
    t = time.perf_counter()
    for _ in range(n_env):
        action, state = agent.act(obs, state, True)
        obs, _, term, trunc, _ = env.step(action)
        if term or trunc:
            obs, _ = env.reset()
            state = None
    result["env_steps_per_s"] = n_env / (time.perf_counter() - t)

    with tempfile.TemporaryDirectory() as tmp:
        fill_store(env, Path(tmp), steps=400, seed=seed)
        sampler = SequenceSampler(EpisodeStore(tmp), loop.seq_len, keys=agent.batch_keys, seed=seed)
        wm = agent.world_model
        batches = [sampler.sample(loop.batch_size) for _ in range(3)]
        agent.update(batches[0])  # warm-up (allocations, first-call overheads)
        t = time.perf_counter()
        for i in range(n_updates):
            loss, _, _ = wm.loss(wm.to_torch(batches[i % 3]))
            agent.wm_opt.zero_grad(set_to_none=True)
            loss.backward()
            agent.wm_opt.step()
        result["wm_updates_per_s"] = n_updates / (time.perf_counter() - t)
        t = time.perf_counter()
        for i in range(n_updates):
            agent.update(batches[i % 3])
        result["agent_updates_per_s"] = n_updates / (time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(n_updates):
            sampler.sample(loop.batch_size)
        result["sample_batches_per_s"] = n_updates / (time.perf_counter() - t)
    updates_per_step = loop.train_ratio / (loop.batch_size * loop.seq_len)
    result["loop_env_steps_per_s"] = 1.0 / (
        1.0 / result["env_steps_per_s"] + updates_per_step / result["agent_updates_per_s"]
    )
    env.close()
    return result


def bench_twist(preset: str, n_updates: int, seed: int = 0) -> dict[str, float]:
    """Distillation updates/s vs pixel Dreamer world-model updates/s on identical synthetic batches."""
    from twist_agents.dreamer import DreamerAgent, dreamer_config
    from twist_agents.training.loop import LOOP_PRESETS
    from twist_agents.twist import TwistAgent, distill_config

    shapes = {"state": (5,), "pixels": (64, 64, 3)}
    space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    rng = np.random.default_rng(seed)

    def batch(b: int, t: int) -> dict[str, np.ndarray]:
        return {
            "state": rng.normal(size=(b, t, 5)).astype(np.float32),
            "pixels": rng.integers(0, 255, (b, t, 64, 64, 3), dtype=np.uint8),
            "action": rng.uniform(-1, 1, (b, t, 1)).astype(np.float32),
            "reward": rng.normal(size=(b, t)).astype(np.float32),
            "is_first": np.zeros((b, t), bool),
            "is_last": np.zeros((b, t), bool),
            "is_terminal": np.zeros((b, t), bool),
        }

    def rate(step, data) -> float:
        step(data)  # warm-up
        t = time.perf_counter()
        for _ in range(n_updates):
            step(data)
        return n_updates / (time.perf_counter() - t)

    loop, dcfg = LOOP_PRESETS[preset], distill_config(preset)
    pixel = DreamerAgent(dreamer_config(preset, encode=("pixels",), decode=("pixels",)), shapes, space, seed=seed)

    def wm_step(data: dict[str, np.ndarray]) -> None:
        loss, _, _ = pixel.world_model.loss(pixel.world_model.to_torch(data))
        pixel.wm_opt.zero_grad(set_to_none=True)
        loss.backward()
        pixel.wm_opt.step()

    teacher = DreamerAgent(dreamer_config(preset), shapes, space, seed=seed)
    student = TwistAgent(teacher, {"pixels": shapes["pixels"]}, dcfg, seed=seed)
    same = batch(loop.batch_size, loop.seq_len)
    out = {
        "distill_batch": [dcfg.batch_size, dcfg.seq_len],
        "pixel_batch": [loop.batch_size, loop.seq_len],
        "distill_updates_per_s": rate(student.update, batch(dcfg.batch_size, dcfg.seq_len)),
        "distill_updates_per_s_same_batch": rate(student.update, same),
        "pixel_wm_updates_per_s_same_batch": rate(wm_step, same),
    }
    same_rate = out["distill_updates_per_s_same_batch"]
    out["pixel_wm_over_distill_cost"] = same_rate / out["pixel_wm_updates_per_s_same_batch"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu", choices=("debug", "cpu", "paper"))
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--updates", type=int, default=10, help="timed updates per variant")
    parser.add_argument("--env-steps", type=int, default=300, help="timed env steps per variant")
    parser.add_argument("--variants", default="state,pixels,twist")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "train.json")
    args = parser.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    torch.set_num_threads(args.threads)
    report = {
        "preset": args.preset,
        "torch_threads": args.threads,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_avg_before": os.getloadavg(),
        "variants": {},
    }
    for name in args.variants.split(","):
        start = time.perf_counter()
        if name == "twist":
            report["variants"][name] = bench_twist(args.preset, args.updates)
        else:
            report["variants"][name] = bench_variant(name, args.preset, args.updates, args.env_steps)
        report["variants"][name]["bench_wall_s"] = time.perf_counter() - start
        print(name, json.dumps(report["variants"][name], indent=1), flush=True)
    report["load_avg_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
