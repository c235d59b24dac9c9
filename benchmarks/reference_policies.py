"""Returns of two policies that learn nothing, the floor every trained agent's row is read against.

* ``random``: uniform random actions (the action space's own sampler);
* ``zero``: a constant zero action. On CartpoleBalance this scores far above random: the pole starts nearly
  upright and at rest, and falls slowly if nothing pushes the cart.

Returns do not depend on appearance, so the episodes run without rendering (``obs_mode="state"``).
Writes ``benchmarks/results/table1_cpu/references.json``::

    .venv/bin/python benchmarks/reference_policies.py --env TWIST/CartpoleBalance-Distracting-v0
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "table1_cpu" / "references.json"


def run_episode(env: Any, act: Callable[[], np.ndarray], seed: int) -> tuple[float, dict[str, Any]]:
    """One episode from ``env.reset(seed=seed)``, ``act()`` giving every action: (undiscounted return, last info)."""
    env.reset(seed=seed)
    total, done, info = 0.0, False, {}
    while not done:
        _, reward, terminated, truncated, info = env.step(act())
        total += float(reward)
        done = terminated or truncated
    return total, info


def reference_returns(env_id: str, episodes: int, seed: int) -> dict[str, dict[str, object]]:
    """``{"random": {...}, "zero": {...}}``: per-episode returns, mean and std of each policy on ``env_id``."""
    import gymnasium as gym

    import twist_envs  # noqa: F401 - registers the ids

    env = gym.make(env_id, obs_mode="state", randomization="none")
    out: dict[str, dict[str, object]] = {}
    try:
        for name in ("random", "zero"):
            returns = []
            zero = np.zeros(env.action_space.shape, np.float32)
            act = env.action_space.sample if name == "random" else lambda z=zero: z
            for ep in range(episodes):
                env.action_space.seed(seed + ep)
                total, _ = run_episode(env, act, seed + ep)
                returns.append(round(total, 1))
            out[name] = {
                "returns": returns,
                "mean": round(float(np.mean(returns)), 1),
                "std": round(float(np.std(returns)), 1),
            }
    finally:
        env.close()
    return out


def main() -> None:
    """Measure both policies on each env and write the JSON (one key per env id)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="TWIST/CartpoleBalance-Distracting-v0", help="comma-separated env ids")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=50_000)
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args()
    rows = json.loads(a.out.read_text()) if a.out.exists() else {}
    for env_id in a.env.split(","):
        rows[env_id] = reference_returns(env_id, a.episodes, a.seed)
        print(env_id, {k: v["mean"] for k, v in rows[env_id].items()})
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
