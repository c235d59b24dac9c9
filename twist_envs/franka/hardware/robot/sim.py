"""The arm's sim twin: drives the MuJoCo scene of the Franka sim env and models its collision reflex."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twist_envs.franka.hardware.robot.base import GuardedRobot
from twist_envs.franka.scene.geometry import REFLEX_FORCE_N, Workspace
from twist_envs.franka.tasks import GRIPPER_MAX_WIDTH

if TYPE_CHECKING:
    from twist_envs.franka.scene.physics import FrankaPhysics


class SimReflexError(RuntimeError):
    """The sim twin's collision reflex: contact force above the threshold (like libfranka's reflex)."""


class SimRobot(GuardedRobot):
    """Sim twin of the arm: drives the MuJoCo scene of the Franka sim env (``FrankaPhysics``).

    It models the part of the real controller the safety rules react to: a collision reflex. When the
    contact force on the robot exceeds ``force_threshold`` the command is aborted, the twin enters an error
    state and refuses motion until ``recover()`` — as a real Franka does after a Cartesian reflex.

    Args:
        physics: the scene (shared with ``SimCamera`` so the camera sees what the arm does).
        workspace: box the end-effector must stay in (defaults to the scene's).
        max_step_m: largest move per axis per step (<= 2 cm).
        force_threshold: contact force (N) on robot geoms that triggers the reflex.
    """

    def __init__(
        self,
        physics: FrankaPhysics,
        workspace: Workspace | None = None,
        max_step_m: float = 0.02,
        force_threshold: float = REFLEX_FORCE_N,
    ):
        super().__init__("sim robot", workspace or physics.workspace, max_step_m, physics.task == "lift")
        self.physics = physics
        self.force_threshold = force_threshold
        self.fault: str | None = None
        self.stop_count = 0
        self.recover_count = 0

    def contact_force(self) -> float:
        """Total normal contact force (N) on the robot's geoms right now."""
        return self.physics.robot_contact_force()

    def ee_pos(self) -> np.ndarray:
        """End-effector position (3,) from the scene."""
        return self.physics.ee_pos()

    def gripper_width(self) -> float:
        """Finger opening (m); 0 for the peg."""
        return self.physics.gripper_width()

    def _move_base(self, delta_xyz: np.ndarray) -> None:
        if self.fault is not None:
            raise SimReflexError(f"robot in error state ({self.fault}); recover first")
        self.physics.move_ee(delta_xyz, gripper=self._gripper_cmd)
        force = self.contact_force()
        if force > self.force_threshold:
            self.fault = f"cartesian reflex: contact force {force:.0f} N > {self.force_threshold:.0f} N"
            raise SimReflexError(self.fault)

    def _home(self) -> None:
        self.physics.home()
        self.fault = None

    def _set_gripper(self, width: float) -> None:
        # The scene applies the finger target together with the next arm step, as the sim env does.
        self._gripper_cmd = width

    def _command_gripper(self, width: float) -> None:
        self._gripper_cmd = float(np.clip(width, 0.0, GRIPPER_MAX_WIDTH))

    def _stop(self) -> None:
        # The joint servos hold the last target, so stopping = sending nothing more.
        self.stop_count += 1

    def _recover(self) -> bool:
        self.recover_count += 1
        self.fault = None
        return True
