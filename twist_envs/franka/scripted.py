"""Hand-written controllers for BlockPush and BlockLift that read positions, not images.

They prove that the tasks are solvable within the action limits (2 cm per axis per step, 150 steps) and
that success is computed correctly; the tests and the docs' GIFs use them. They act on a
:class:`~twist_envs.franka.tasks.TaskReadout`, so they run on the sim (from ``obs["state"]``) and, given
positions, on the real robot.

Example:
    >>> import gymnasium as gym
    >>> import twist_envs
    >>> from twist_envs.franka.scripted import ScriptedPolicy
    >>> from twist_envs.franka.sim import readout_from_state
    >>> env = gym.make("TWIST/BlockPush-Sim-v0", obs_mode="state", randomization="none")
    >>> obs, info = env.reset(seed=3)
    >>> policy = ScriptedPolicy("push")
    >>> for _ in range(150):
    ...     obs, reward, terminated, truncated, info = env.step(policy.act(readout_from_state(obs["state"])))
    >>> info["success"]
    True
    >>> env.close()
"""

from __future__ import annotations

import numpy as np

from twist_envs.franka.scene import PEG_RADIUS
from twist_envs.franka.tasks import BLOCK_SIZE, TABLE_HEIGHT, TaskReadout, make_task


class ScriptedPolicy:
    """A phase-based expert controller for either task.

    Push: approach behind the block, lower the peg, push along the block-goal line (and go round again if the
    block slides off that line). Lift: hover over the block, open, descend, close, lift.

    Args:
        task: ``"push"`` or ``"lift"``.
        gain: proportional gain from position error to action (1 / metres); 1 / 0.02 saturates at 2 cm.
    """

    def __init__(self, task: str, gain: float = 1.0 / 0.02) -> None:
        self.task = make_task(task)
        self.gain = gain
        self.reset()

    def reset(self) -> None:
        """Forget the phase (call at the start of each episode)."""
        self._phase = "approach"
        self._closed_steps = 0

    def _toward(self, ee: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.clip(self.gain * (target - ee), -1.0, 1.0)

    def act(self, r: TaskReadout) -> np.ndarray:
        """The action (float32, shape ``(task.action_dim,)``) for the current readout."""
        if self.task.name == "push":
            return self._push(r).astype(np.float32)
        return self._lift(r).astype(np.float32)

    def _push(self, r: TaskReadout) -> np.ndarray:
        ee, block, goal = r.ee_pos, r.block_pos, r.goal_pos
        to_goal = goal[:2] - block[:2]
        dist = float(np.linalg.norm(to_goal))
        if dist < 0.01:  # close enough (success is < 5 cm): hold still so the block settles
            return np.zeros(3)
        d = to_goal / dist
        standoff = 0.5 * BLOCK_SIZE + PEG_RADIUS + 0.015
        behind = block[:2] - d * standoff  # where the peg starts a push
        rel = ee[:2] - block[:2]
        along, lateral = float(rel @ d), float(abs(rel[0] * d[1] - rel[1] * d[0]))
        low, high = TABLE_HEIGHT + 0.012, TABLE_HEIGHT + 0.08
        if self._phase == "push" and (along > -0.5 * BLOCK_SIZE or lateral > 0.02):
            self._phase = "approach"  # the block slid off the peg's line: go round again
        if self._phase == "approach":
            if np.linalg.norm(ee[:2] - behind) < 0.01:  # above the start point: lower the peg
                if ee[2] < low + 0.01:
                    self._phase = "push"
                return self._toward(ee, np.array([*behind, low]))
            if ee[2] < high - 0.02:  # low and elsewhere: rise first, so the peg never sweeps the block
                return self._toward(ee, np.array([*ee[:2], high]))
            return self._toward(ee, np.array([*behind, high]))
        # Push: aim the peg at the point behind the block, shifted towards the goal, at low height.
        target = np.array([*(block[:2] - d * (standoff - 0.02) + d * min(0.02, dist)), low])
        return self._toward(ee, target)

    def _lift(self, r: TaskReadout) -> np.ndarray:
        ee, block = r.ee_pos, r.block_pos
        above = np.array([block[0], block[1], TABLE_HEIGHT + 0.08])
        grasp = np.array([block[0], block[1], TABLE_HEIGHT + 0.012])
        if self._phase == "approach":
            if np.linalg.norm(ee[:2] - block[:2]) < 0.006:
                self._phase = "descend"
            return np.array([*self._toward(ee, above), -1.0])
        if self._phase == "descend":
            if ee[2] < grasp[2] + 0.006:
                self._phase = "close"
            return np.array([*self._toward(ee, grasp), -1.0])
        if self._phase == "close":
            self._closed_steps += 1
            # Lift once the fingers rest on the cube (or, if something blocks them, after a few steps).
            if (self._closed_steps >= 2 and r.gripper_width < BLOCK_SIZE + 0.008) or self._closed_steps >= 8:
                self._phase = "lift"
            return np.array([*self._toward(ee, grasp), 1.0])
        target = np.array([block[0], block[1], TABLE_HEIGHT + 0.25])
        return np.array([*self._toward(ee, target), 1.0])


def record_gif(task: str, path: str, seed: int = 0, scale: int = 3, extra_steps: int = 12) -> bool:
    """Records the scripted controller from the policy camera (64 px, training randomisation) as a GIF.

    The episode runs until ``extra_steps`` after the first step that meets the success criterion (or its 150
    steps); frames are upscaled ``scale`` times with nearest-neighbour so the GIF shows what the agent sees.

    Args:
        task: ``"push"`` or ``"lift"``.
        path: output ``.gif`` file.
        seed: episode seed.
        scale: integer upscaling factor.
        extra_steps: steps kept after the first success.

    Returns:
        Whether the recorded episode met the success criterion at its last frame.
    """
    import gymnasium as gym
    import imageio.v2 as imageio

    import twist_envs  # noqa: F401  (registers the ids)

    env = gym.make(f"TWIST/Block{task.capitalize()}-Sim-v0", obs_mode="paired", randomization="train")
    obs, info = env.reset(seed=seed)  # the env's own ScriptedPolicy (expert_action) restarts here
    frames, first, truncated = [obs["pixels"]], None, False
    while not truncated:
        obs, _, _, truncated, info = env.step(env.unwrapped.expert_action())
        frames.append(obs["pixels"])
        if info["success"] and first is None:
            first = len(frames)
        if first is not None and len(frames) >= first + extra_steps:
            break
    env.close()
    big = [np.kron(f, np.ones((scale, scale, 1), np.uint8)) for f in frames]  # (64*s, 64*s, 3)
    imageio.mimsave(path, big, duration=0.1, loop=0)
    return bool(info["success"])


def success_rate(task: str, seeds: int, randomization: str = "train", policy: str = "scripted") -> float:
    """Fraction of episodes (seeds ``0..seeds-1``) that end in success, for the scripted or a random policy.

    Args:
        task: ``"push"`` or ``"lift"``.
        seeds: number of episodes.
        randomization: the env's randomisation split.
        policy: ``"scripted"`` (this module's controller, reading ``obs["state"]``) or ``"random"`` (uniform
            actions, seeded per episode).
    """
    import gymnasium as gym

    import twist_envs  # noqa: F401  (registers the ids)

    env = gym.make(f"TWIST/Block{task.capitalize()}-Sim-v0", obs_mode="state", randomization=randomization)
    wins = 0
    for seed in range(seeds):
        obs, info = env.reset(seed=seed)  # also restarts the env's ScriptedPolicy behind expert_action()
        env.action_space.seed(seed)
        truncated = False
        while not truncated:
            if policy == "scripted":
                action = env.unwrapped.expert_action()
            else:
                action = env.action_space.sample()
            obs, _, _, truncated, info = env.step(action)
        wins += bool(info["success"])
    env.close()
    return wins / seeds


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Scripted Franka controller: success rates, or a GIF for the docs.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser("eval", help="scripted and random-policy success rates")
    ev.add_argument("task", choices=["push", "lift"])
    ev.add_argument("--seeds", type=int, default=30)
    ev.add_argument("--randomization", default="train", choices=["train", "test", "none"])
    gif = sub.add_parser("gif", help="record the scripted controller from the policy camera")
    gif.add_argument("task", choices=["push", "lift"])
    gif.add_argument("path")
    gif.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.cmd == "gif":
        print(f"{a.task}: success={record_gif(a.task, a.path, a.seed)} -> {a.path}")
    else:
        for pol in ("scripted", "random"):
            rate = success_rate(a.task, a.seeds, a.randomization, pol)
            print(f"{a.task} ({a.randomization}), {pol} policy: success {rate:.2f} over {a.seeds} seeds")
