"""Franka Panda through ``franky`` (pip ``franky-control``), the maintained fork of frankx.

franky's relative Cartesian motions are expressed in the *end-effector* frame, so base-frame deltas are
rotated by the inverse of the current end-effector orientation before they are sent.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled

from twist_envs.franka.hardware.camera import REAL_EXTRA
from twist_envs.franka.hardware.errors import HardwareError
from twist_envs.franka.hardware.robot.base import (
    DOWN_QUAT_XYZW,
    FCI_PORT,
    MIN_MOVE_M,
    READY_JOINTS,
    GuardedRobot,
    probe_tcp,
)
from twist_envs.franka.scene.geometry import DEFAULT_WORKSPACE, HOME_EE, REFLEX_FORCE_N, Workspace
from twist_envs.franka.tasks import GRIPPER_MAX_WIDTH

logger = logging.getLogger(__name__)


def _import_franky() -> Any:
    try:
        import franky
    except ImportError as e:
        raise DependencyNotInstalled(f"franky is not installed (needed for robot='franky'): {REAL_EXTRA}") from e
    return franky


class FrankyRobot(GuardedRobot):
    """Franka Panda through ``franky`` (pip ``franky-control``), the maintained fork of frankx.

    The constructor first probes the FCI TCP port with a short timeout, so an unreachable robot fails in
    seconds with its address in the message (libfranka itself would wait much longer).

    Args:
        ip: address of the robot's control box (FCI).
        workspace: box the end-effector must stay in.
        max_step_m: largest move per axis per step (<= 2 cm).
        has_gripper: connect to the Franka hand (lift); ``False`` for the push peg.
        dynamics_factor: fraction of the maximal velocity/acceleration/jerk used by every motion. 0.1 keeps a
            2 cm step slow and smooth; raise it only after the checklist in docs/hardware.md.
        connect_timeout_s: TCP probe timeout.
        realtime: require a real-time kernel as libfranka recommends; ``False`` only for franky-sim.
        home_joints: posture moved to before the Cartesian move to ``HOME_EE``.
        home_pos: end-effector position after homing (base frame).
        tcp_offset_m: if given, puts the end-effector frame this far along z from the *nominal* end effector
            configured in Desk (the flange when Desk has none), e.g. 0.12 for the peg tip on a bare flange;
            ``None`` keeps Desk's end effector as the tool tip.
        gripper_speed: finger speed (m/s).
        grasp_force: force (N) the fingers hold the block with when closing.
        force_threshold: Cartesian contact force (N) above which the robot's collision reflex stops it.
        torque_threshold: joint torque (Nm) above which the collision reflex stops it.
    """

    def __init__(
        self,
        ip: str = "172.16.0.2",
        workspace: Workspace = DEFAULT_WORKSPACE,
        max_step_m: float = 0.02,
        has_gripper: bool = True,
        dynamics_factor: float = 0.1,
        connect_timeout_s: float = 2.0,
        realtime: bool = True,
        home_joints: tuple[float, ...] = READY_JOINTS,
        home_pos: tuple[float, float, float] = tuple(HOME_EE),
        tcp_offset_m: float | None = None,
        gripper_speed: float = 0.05,
        grasp_force: float = 20.0,
        force_threshold: float = REFLEX_FORCE_N,
        torque_threshold: float = 20.0,
    ):
        super().__init__(f"robot at {ip}", workspace, max_step_m, has_gripper)
        if not 0.0 < dynamics_factor <= 1.0:
            raise ValueError(f"dynamics_factor must be in (0, 1], got {dynamics_factor}")
        if not workspace.contains(np.asarray(home_pos)):
            raise ValueError(f"home_pos {home_pos} is outside the workspace {workspace}")
        self._franky = franky = _import_franky()
        self.ip = ip
        self.home_joints = tuple(float(q) for q in home_joints)
        self.home_pos = tuple(float(v) for v in home_pos)
        self.gripper_speed = gripper_speed
        self.grasp_force = grasp_force
        reason = probe_tcp(ip, FCI_PORT, connect_timeout_s)
        if reason is not None:
            raise HardwareError(
                f"Franka robot at {ip} unreachable: no answer on TCP port {FCI_PORT} (FCI) within "
                f"{connect_timeout_s:g} s ({reason}). Check the Ethernet cable to the control box, that the "
                "arm is powered and FCI is activated in Desk, and the robot_ip; or pass robot='sim'."
            )
        rt = franky.RealtimeConfig.Enforce if realtime else franky.RealtimeConfig.Ignore
        self._gripper: Any = None
        try:
            self._robot = franky.Robot(
                ip,
                realtime_config=rt,
                default_torque_threshold=torque_threshold,
                default_force_threshold=force_threshold,
            )
            self._robot.relative_dynamics_factor = dynamics_factor
            self._robot.recover_from_errors()  # a reflex left over from the last session blocks every motion
            if tcp_offset_m is not None:
                ne_t_ee = np.eye(4)
                ne_t_ee[2, 3] = tcp_offset_m
                self._robot.set_ee(ne_t_ee.flatten(order="F").tolist())
            if has_gripper:
                self._gripper = franky.Gripper(ip)
        except Exception as e:
            raise HardwareError(f"Franka robot at {ip}: connection failed ({type(e).__name__}: {e})") from e

    def _pose_matrix(self) -> np.ndarray:
        return np.asarray(self._robot.current_pose.end_effector_pose.matrix)  # (4, 4), base_T_ee

    def ee_pos(self) -> np.ndarray:
        """Measured end-effector position (3,), base frame."""
        return self._pose_matrix()[:3, 3].copy()

    def gripper_width(self) -> float:
        """Measured finger opening (m); 0 without a gripper."""
        return float(self._gripper.width) if self._gripper is not None else 0.0

    def _move_base(self, delta_xyz: np.ndarray) -> None:
        if np.max(np.abs(delta_xyz)) < MIN_MOVE_M:
            return  # franky's planner rejects zero-length motions (Ruckig error -111); the arm holds anyway
        f = self._franky
        # franky's Relative reference is the end-effector frame: d_ee = R^T d_base with R = base_R_ee.
        rot = self._pose_matrix()[:3, :3]
        delta_ee = rot.T @ delta_xyz
        self._robot.move(f.CartesianMotion(f.Affine(delta_ee), f.ReferenceType.Relative))

    def _home(self) -> None:
        f = self._franky
        self._robot.move(f.JointMotion(f.JointState(np.array(self.home_joints))))
        target = f.Affine(np.array(self.home_pos), np.array(DOWN_QUAT_XYZW))
        self._robot.move(f.CartesianMotion(f.RobotPose(target), f.ReferenceType.Absolute))

    def _set_gripper(self, width: float) -> None:
        g = self._gripper
        if width < g.width - 0.002:
            # Closing = force-controlled grasp with wide tolerances: it stops on the block and holds it with
            # grasp_force instead of failing like a position move blocked by the block.
            g.grasp(
                width,
                self.gripper_speed,
                self.grasp_force,
                epsilon_inner=GRIPPER_MAX_WIDTH,
                epsilon_outer=GRIPPER_MAX_WIDTH,
            )
        else:
            g.move(width, self.gripper_speed)

    def _stop(self) -> None:
        self._robot.stop()
        try:
            # Wait for the preempted motion to end; its "preempted" error belongs to it, and left unread it
            # would be raised by the next move instead.
            self._robot.join_motion(timeout=1.0)
        except Exception as e:
            logger.info("%s: stopped motion ended with: %s", self.name, e)

    def _recover(self) -> bool:
        return bool(self._robot.recover_from_errors())

    def _disconnect(self) -> None:
        # franky closes its sockets when the objects are destroyed.
        self._gripper = None
        self._robot = None
