"""Franka Panda through ``frankx`` (the original library; unmaintained, no wheel for Python >= 3.10).

frankx's relative motions are in the *end-effector* frame too, and its pose vector is ``(x, y, z, a, b, c)``
with Euler angles ``Rz(a) Ry(b) Rx(c)``.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium.error import DependencyNotInstalled

from twist_envs.franka.hardware.camera import REAL_EXTRA
from twist_envs.franka.hardware.errors import HardwareError
from twist_envs.franka.hardware.robot.base import FCI_PORT, MIN_MOVE_M, READY_JOINTS, GuardedRobot, probe_tcp
from twist_envs.franka.scene.geometry import DEFAULT_WORKSPACE, Workspace


def _euler_zyx_to_matrix(a: float, b: float, c: float) -> np.ndarray:
    """Rotation matrix Rz(a) Ry(b) Rx(c) (frankx's pose vector convention)."""
    ca, sa, cb, sb, cc, sc = math.cos(a), math.sin(a), math.cos(b), math.sin(b), math.cos(c), math.sin(c)
    rz = np.array([[ca, -sa, 0.0], [sa, ca, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cb, 0.0, sb], [0.0, 1.0, 0.0], [-sb, 0.0, cb]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cc, -sc], [0.0, sc, cc]])
    return rz @ ry @ rx


class FrankxRobot(GuardedRobot):
    """Franka Panda through ``frankx`` (the original library; unmaintained).

    frankx publishes no wheel for Python >= 3.10, so on this project's Python it is usually not installable;
    use ``FrankyRobot`` there. The import is lazy so the rest of the package works without it.

    Args:
        ip: address of the robot's control box (FCI).
        workspace: box the end-effector must stay in.
        max_step_m: largest move per axis per step (<= 2 cm).
        has_gripper: connect to the Franka hand (lift); ``False`` for the push peg.
        dynamics_factor: fraction of the maximal velocity/acceleration/jerk.
        connect_timeout_s: TCP probe timeout.
        home_joints: posture moved to when homing.
    """

    def __init__(
        self,
        ip: str = "172.16.0.2",
        workspace: Workspace = DEFAULT_WORKSPACE,
        max_step_m: float = 0.02,
        has_gripper: bool = True,
        dynamics_factor: float = 0.1,
        connect_timeout_s: float = 2.0,
        home_joints: tuple[float, ...] = READY_JOINTS,
    ):
        super().__init__(f"robot at {ip}", workspace, max_step_m, has_gripper)
        try:
            import frankx
        except ImportError as e:
            import sys

            raise DependencyNotInstalled(
                f"frankx is not installed. It has no wheel for Python >= 3.10 (this is Python "
                f"{sys.version_info.major}.{sys.version_info.minor}); use robot='franky' instead "
                f"(franky-control, the maintained fork: {REAL_EXTRA}), or build frankx from source."
            ) from e
        self._frankx = frankx
        self.home_joints = list(home_joints)
        reason = probe_tcp(ip, FCI_PORT, connect_timeout_s)
        if reason is not None:
            raise HardwareError(
                f"Franka robot at {ip} unreachable: no answer on TCP port {FCI_PORT} (FCI) "
                f"within {connect_timeout_s:g} s ({reason}); or pass robot='sim'."
            )
        try:
            self._robot = frankx.Robot(ip)
            self._robot.set_default_behavior()
            self._robot.recover_from_errors()
            self._robot.set_dynamic_rel(dynamics_factor)
            self._gripper = self._robot.get_gripper() if has_gripper else None
        except Exception as e:
            raise HardwareError(f"Franka robot at {ip}: connection failed ({type(e).__name__}: {e})") from e

    def _pose(self) -> np.ndarray:
        return np.asarray(self._robot.current_pose().vector(), dtype=np.float64)  # (x, y, z, a, b, c)

    def ee_pos(self) -> np.ndarray:
        """Measured end-effector position (3,), base frame."""
        return self._pose()[:3].copy()

    def gripper_width(self) -> float:
        """Measured finger opening (m); 0 without a gripper."""
        return float(self._gripper.width()) if self._gripper is not None else 0.0

    def _move_base(self, delta_xyz: np.ndarray) -> None:
        if np.max(np.abs(delta_xyz)) < MIN_MOVE_M:
            return
        rot = _euler_zyx_to_matrix(*self._pose()[3:6])
        d = rot.T @ delta_xyz  # frankx relative motions are in the end-effector frame too
        if not self._robot.move(self._frankx.LinearRelativeMotion(self._frankx.Affine(*d.tolist()))):
            raise RuntimeError("frankx motion did not finish (reflex or error)")

    def _home(self) -> None:
        if not self._robot.move(self._frankx.JointMotion(self.home_joints)):
            raise RuntimeError("frankx joint motion to home did not finish")

    def _set_gripper(self, width: float) -> None:
        if width < self.gripper_width() - 0.002:
            self._gripper.clamp()
        else:
            self._gripper.move(width)

    def _stop(self) -> None:
        self._robot.stop()

    def _recover(self) -> bool:
        self._robot.recover_from_errors()
        return True
