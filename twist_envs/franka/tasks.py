"""BlockPush and BlockLift as small task objects shared by the sim and the real env.

Everything that defines *what* the robot must do lives here and nowhere else: action scaling
(end-effector delta position, <= 2 cm per axis per step), the sampling regions of block and goal,
the dense shaped rewards and the paper's success criteria (Sec. V-B of the TWIST paper):

- BlockPush: the centre of the 4 cm cube is within 5 cm of the red goal marker at the end of the episode.
- BlockLift: the cube is lifted 10 cm above the tabletop at the end of the episode.

All positions are in the robot base frame (metres); the tabletop is the plane ``z = TABLE_HEIGHT``.
This module imports no simulator, so the real-robot env can use it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TABLE_HEIGHT: float = 0.0
"""Height of the tabletop in the robot base frame (m); the robot is mounted on the table."""

BLOCK_SIZE: float = 0.04
"""Edge length of the cube (m), as in the paper."""

GRIPPER_MAX_WIDTH: float = 0.08
"""Opening of the Franka hand when fully open (m)."""

EPISODE_STEPS: int = 150
"""Episode length in control steps, as in the paper."""


@dataclass(frozen=True)
class TaskReadout:
    """What a task needs to know about the world to compute reward and success.

    Both the simulator and the real robot (from proprioception plus a detector or the operator) fill it in.
    """

    ee_pos: np.ndarray
    """End-effector (tool tip) position, shape (3,), metres."""
    block_pos: np.ndarray
    """Centre of the cube, shape (3,), metres."""
    goal_pos: np.ndarray
    """Goal marker position, shape (3,), metres (for lift: the point 10 cm above the initial block)."""
    gripper_width: float
    """Distance between the fingers (m); 0 for the peg used in BlockPush."""


def _check_box(name: str, low: tuple[float, float], high: tuple[float, float]) -> None:
    if not all(lo <= hi for lo, hi in zip(low, high, strict=True)):
        raise ValueError(f"{name}: low {low} must be <= high {high} on every axis")


@dataclass(frozen=True)
class BlockPushTask:
    """Push the cube so that its centre ends within 5 cm of the red goal marker.

    The hand is replaced by a peg (the paper 3D-printed one so the hand would not hide the block), so
    the action is a 3-D end-effector delta only.
    """

    name: str = "push"
    """Task name used by ``make_task``."""
    action_dim: int = 3
    """Action = (dx, dy, dz) in [-1, 1]."""
    max_step_m: float = 0.02
    """Largest end-effector move per axis per step (m); the paper's 2 cm."""
    block_region: tuple[tuple[float, float], tuple[float, float]] = ((0.45, -0.12), (0.60, 0.12))
    """(low_xy, high_xy) box the initial block centre is sampled from, uniformly."""
    goal_region: tuple[tuple[float, float], tuple[float, float]] = ((0.40, -0.18), (0.65, 0.18))
    """(low_xy, high_xy) box the goal marker is sampled from, uniformly."""
    min_goal_distance: float = 0.10
    """Smallest initial block-goal distance (m), so that an episode is never solved at reset."""
    success_distance: float = 0.05
    """Block centre to goal distance counted as success (m); the paper's 5 cm."""

    def __post_init__(self) -> None:
        _check_box("block_region", *self.block_region)
        _check_box("goal_region", *self.goal_region)

    def sample_initial(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draws the block and goal positions on the table.

        Args:
            rng: the env's generator (``env.np_random``).

        Returns:
            ``(block_xy, goal_xy)``, each of shape (2,).
        """
        block = rng.uniform(self.block_region[0], self.block_region[1])
        # Rejection sampling keeps the goal distribution uniform over the part of the region far enough away.
        for _ in range(1000):
            goal = rng.uniform(self.goal_region[0], self.goal_region[1])
            if np.linalg.norm(goal - block) >= self.min_goal_distance:
                break
        return block, goal

    def reward(self, r: TaskReadout) -> float:
        """Dense shaped reward in [0, 2]: reach the block, then push it to the goal.

        ``reach = 1 - tanh(10 * |ee - block|)`` and ``push = 1 - tanh(10 * |block_xy - goal_xy|)``, with a
        bonus of 1 while the success criterion holds (the paper defines its dense reward only in words).
        """
        reach = 1.0 - np.tanh(10.0 * float(np.linalg.norm(r.ee_pos - r.block_pos)))
        dist = float(np.linalg.norm(r.block_pos[:2] - r.goal_pos[:2]))
        push = 1.0 - np.tanh(10.0 * dist)
        return float(0.25 * reach + 0.75 * push + (1.0 if self.success(r) else 0.0)) / 2.0

    def success(self, r: TaskReadout) -> bool:
        """Block centre within ``success_distance`` of the goal (in the table plane)."""
        return bool(np.linalg.norm(r.block_pos[:2] - r.goal_pos[:2]) < self.success_distance)


@dataclass(frozen=True)
class BlockLiftTask:
    """Grasp the cube with the two-finger Franka hand and lift it 10 cm above the tabletop."""

    name: str = "lift"
    """Task name used by ``make_task``."""
    action_dim: int = 4
    """Action = (dx, dy, dz, gripper) in [-1, 1]; gripper -1 = open fully, +1 = close fully."""
    max_step_m: float = 0.02
    """Largest end-effector move per axis per step (m); the paper's 2 cm."""
    block_region: tuple[tuple[float, float], tuple[float, float]] = ((0.45, -0.12), (0.60, 0.12))
    """(low_xy, high_xy) box the initial block centre is sampled from, uniformly."""
    goal_region: tuple[tuple[float, float], tuple[float, float]] = ((0.45, -0.12), (0.60, 0.12))
    """Unused for sampling (the lift goal sits above the block); kept so both tasks share one interface."""
    lift_height: float = 0.10
    """How far the bottom of the cube must be above the tabletop (m); the paper's 10 cm."""

    def __post_init__(self) -> None:
        _check_box("block_region", *self.block_region)

    def sample_initial(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draws the block position; the goal is the point above it (returned as its xy).

        Args:
            rng: the env's generator (``env.np_random``).

        Returns:
            ``(block_xy, goal_xy)``, each of shape (2,); ``goal_xy == block_xy``.
        """
        block = rng.uniform(self.block_region[0], self.block_region[1])
        return block, block.copy()

    def goal_height(self) -> float:
        """Height of the block centre that counts as lifted (m, base frame)."""
        return TABLE_HEIGHT + 0.5 * BLOCK_SIZE + self.lift_height

    def reward(self, r: TaskReadout) -> float:
        """Dense shaped reward in [0, 1]: reach, grasp, lift.

        ``reach = 1 - tanh(10 * |ee - block|)``; ``grasp`` is 1 while the fingers are closed on the cube
        (near it and the width about the cube's size); ``lift`` grows linearly with the block's height up to
        the target; a success bonus closes the gap to 1.
        """
        dist = float(np.linalg.norm(r.ee_pos - r.block_pos))
        reach = 1.0 - np.tanh(10.0 * dist)
        grasp = float(dist < 0.03 and r.gripper_width < BLOCK_SIZE + 0.005)
        height = r.block_pos[2] - (TABLE_HEIGHT + 0.5 * BLOCK_SIZE)
        lift = float(np.clip(height / self.lift_height, 0.0, 1.0))
        bonus = 1.0 if self.success(r) else 0.0
        return float(0.2 * reach + 0.2 * grasp + 0.4 * lift + 0.2 * bonus)

    def success(self, r: TaskReadout) -> bool:
        """The cube's bottom face is at least ``lift_height`` above the tabletop."""
        return bool(r.block_pos[2] >= self.goal_height())


Task = BlockPushTask | BlockLiftTask
"""Either Franka block task."""


def make_task(name: str) -> Task:
    """Returns the default task object for ``"push"`` or ``"lift"``.

    Raises:
        ValueError: ``name`` is not a known task.
    """
    if name == "push":
        return BlockPushTask()
    if name == "lift":
        return BlockLiftTask()
    raise ValueError(f"task must be 'push' or 'lift', got {name!r}")


def scale_action(action: np.ndarray, task: Task) -> tuple[np.ndarray, float | None]:
    """Checks a policy action and turns it into an end-effector delta (m) and a gripper command.

    The action is clipped to [-1, 1] and the first three entries scaled by ``task.max_step_m``, so no axis
    moves more than 2 cm per step (the paper's limit).

    Args:
        action: shape ``(task.action_dim,)``, nominally in [-1, 1].
        task: the task whose action semantics apply.

    Returns:
        ``(delta_xyz, gripper)``: delta of shape (3,) in metres; ``gripper`` is ``None`` for push, else the
        target finger opening in metres, ``GRIPPER_MAX_WIDTH * (1 - a) / 2`` (a = -1 open, +1 closed).

    Raises:
        ValueError: the action has the wrong shape or contains NaN/inf.
    """
    a = np.asarray(action, dtype=np.float64)
    if a.shape != (task.action_dim,):
        raise ValueError(f"action must have shape ({task.action_dim},) for {task.name}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"action contains NaN or inf: {a.tolist()}")
    a = np.clip(a, -1.0, 1.0)
    delta = a[:3] * task.max_step_m
    gripper = None if task.action_dim == 3 else float(GRIPPER_MAX_WIDTH * (1.0 - a[3]) / 2.0)
    return delta, gripper
