"""Render train-randomised and held-out-test frames of every Distracting-Control task to one PNG grid.

Run:  .venv/bin/python examples/render_splits.py docs/distracting_splits.png
Rows: tasks. Columns: 4 consecutive training steps (appearance changes every step), then the first frame
of 4 test episodes (held-out texture families, fixed within an episode), then the un-randomised scene.
"""

import sys

import gymnasium as gym
import imageio.v3 as iio
import numpy as np

import twist_envs


def main(out: str = "docs/distracting_splits.png", size: int = 64) -> None:
    rows = []
    for env_id in twist_envs.DISTRACTING_IDS:
        row = []
        train = gym.make(env_id, obs_mode="pixels", image_size=size)
        obs, _ = train.reset(seed=0)
        for _ in range(4):
            row.append(obs["pixels"])
            obs, *_ = train.step(train.action_space.sample())
        test = gym.make(env_id, obs_mode="pixels", image_size=size, randomization="test")
        for seed in range(4):
            row.append(test.reset(seed=seed)[0]["pixels"])
        plain = gym.make(env_id, obs_mode="pixels", image_size=size, randomization="none")
        row.append(plain.reset(seed=0)[0]["pixels"])
        for e in (train, test, plain):
            e.close()
        # 4-px white gaps between the train, test and plain groups
        gap = np.full((size, 4, 3), 255, np.uint8)
        rows.append(np.concatenate(row[:4] + [gap] + row[4:8] + [gap] + row[8:], axis=1))
    grid = np.concatenate(rows, axis=0).repeat(2, 0).repeat(2, 1)
    iio.imwrite(out, grid)
    print(f"wrote {out}: rows {[i.split('/')[1] for i in twist_envs.DISTRACTING_IDS]}")
    print("columns: train steps 0-3 | held-out test episodes 0-3 | no randomisation")


if __name__ == "__main__":
    main(*sys.argv[1:2])
