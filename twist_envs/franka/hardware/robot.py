"""Robot arms behind one protocol, with the safety rules implemented once for all of them.

``GuardedRobot`` is the base every implementation derives from. Its public methods are the only way to
move the arm, and they enforce, in this order, before a command reaches the controller:

1. *no motion before homing*: ``move_ee`` refuses until ``home()`` succeeded (the env homes in ``reset``);
2. *finite, well-shaped commands*: NaN/inf or a wrong shape raise ``ValueError`` and nothing moves;
3. *bounded steps*: the delta is clipped to ``max_step_m`` per axis (the paper's 2 cm);
4. *workspace box*: the target ``ee + delta`` is clipped into the box, then the per-step clip is applied
   again so an arm that starts outside the box walks back in at most 2 cm per step;
5. *controller errors*: stop, call the automatic error recovery once, drop the failed command (re-sending
   a motion that triggered a collision reflex would repeat the collision); if the recovery fails, or the
   very next command fails again, raise ``HardwareError`` naming the cause.

Implementations only provide primitives (``_move_base``, ``_home``, ``_stop``, ``_recover`` ...):
``FrankyRobot`` (franky-control, the maintained fork of frankx), ``FrankxRobot`` (frankx, where it
installs) and ``SimRobot`` (drives the MuJoCo scene of the sim env).

Frames: every public position and delta is in the robot *base* frame (x forward, z up), like the sim env.
franky/frankx relative Cartesian motions are expressed in the *end-effector* frame, so deltas are rotated
by the inverse of the current end-effector orientation before they are sent.
"""

from __future__ import annotations

import logging
import math
import socket
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from gymnasium.error import DependencyNotInstalled

from twist_envs.franka.hardware.camera import REAL_EXTRA
from twist_envs.franka.hardware.errors import HardwareError
from twist_envs.franka.scene import DEFAULT_WORKSPACE, HOME_EE, Workspace
from twist_envs.franka.tasks import GRIPPER_MAX_WIDTH

if TYPE_CHECKING:
    from twist_envs.franka.scene import FrankaPhysics

logger = logging.getLogger(__name__)

FCI_PORT = 1337
"""TCP port of the Franka Control Interface (libfranka's command channel) on the robot's control box."""

READY_JOINTS: tuple[float, ...] = (0.0, -0.3, 0.0, -2.4, 0.0, 2.1, 0.785)
"""Joint posture (rad) the arm moves to first when homing: tool down, above the table's centre.
It matches the seed posture of the sim scene's home, so real and sim arms start with the same elbow."""

DOWN_QUAT_XYZW: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
"""Tool pointing straight down (180 deg about base x), the sim scene's end-effector orientation."""

MIN_MOVE_M = 1e-4
"""Deltas below this (m, every axis) are not sent to franky/frankx: their planners reject zero motions."""

MAX_STEP_LIMIT_M = 0.02
"""Hard cap on ``max_step_m``: the paper's 2 cm per step; larger values are refused, not clipped."""


@runtime_checkable
class Robot(Protocol):
    """What the real env needs from an arm. All positions in the robot base frame, metres.

    ``move_ee`` is one control step; implementations derive from ``GuardedRobot`` so the safety rules
    above hold for every one of them.
    """

    workspace: Workspace
    max_step_m: float
    has_gripper: bool

    def home(self) -> None:
        """Moves to the home pose (tool down at ``HOME_EE``) and opens the gripper."""
        ...

    def move_ee(self, delta_xyz: np.ndarray, gripper: float | None = None) -> np.ndarray:
        """One control step: clipped end-effector delta (3,) and optional finger opening (m).

        Returns the delta actually commanded after clipping.
        """
        ...

    def ee_pos(self) -> np.ndarray:
        """Measured end-effector (tool tip) position (3,)."""
        ...

    def gripper_width(self) -> float:
        """Measured finger opening (m); 0 without a gripper (the push peg)."""
        ...

    def open_gripper(self) -> None:
        """Opens the fingers fully (no-op without a gripper)."""
        ...

    def recover(self) -> bool:
        """Runs the automatic error recovery; returns whether it succeeded."""
        ...

    def stop(self) -> None:
        """Stops any motion now (never raises)."""
        ...

    def close(self) -> None:
        """Stops and disconnects (idempotent, never raises)."""
        ...


def check_delta(delta_xyz: Any) -> np.ndarray:
    """Validates an end-effector delta before anything moves.

    Args:
        delta_xyz: array-like of shape (3,), metres.

    Returns:
        The delta as float64 (3,).

    Raises:
        ValueError: wrong shape or NaN/inf.
    """
    d = np.asarray(delta_xyz, dtype=np.float64)
    if d.shape != (3,):
        raise ValueError(f"end-effector delta must have shape (3,), got {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError(f"end-effector delta contains NaN or inf: {d.tolist()}")
    return d


def clip_delta(delta_xyz: np.ndarray, ee_pos: np.ndarray, workspace: Workspace, max_step_m: float) -> np.ndarray:
    """Clips a base-frame delta to the per-step limit and keeps the target in the workspace box.

    Args:
        delta_xyz: requested displacement (3,), metres (already validated).
        ee_pos: current end-effector position (3,).
        workspace: the box the end-effector must stay in.
        max_step_m: largest move per axis per step.

    Returns:
        The displacement to command (3,): ``|d_i| <= max_step_m`` and, whenever the arm is inside the box,
        ``ee_pos + d`` inside the box.
    """
    d = np.clip(delta_xyz, -max_step_m, max_step_m)
    target = workspace.clip(np.asarray(ee_pos, dtype=np.float64) + d)
    # Clip again: from outside the box the way back in is also limited to max_step_m per axis.
    return np.clip(target - ee_pos, -max_step_m, max_step_m)


def probe_tcp(host: str, port: int, timeout_s: float) -> str | None:
    """Tries one TCP connection; returns ``None`` if it was accepted, else the reason it failed."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as e:
        return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def validate_max_step(max_step_m: float) -> float:
    """Returns ``max_step_m`` if it is in (0, 2 cm], else raises ``ValueError`` (never silently raised)."""
    if not (0.0 < max_step_m <= MAX_STEP_LIMIT_M):
        raise ValueError(f"max_step_m must be in (0, {MAX_STEP_LIMIT_M}] m (the paper's 2 cm), got {max_step_m}")
    return float(max_step_m)


class GuardedRobot:
    """Base class: the safety rules on top of a few controller primitives.

    Subclasses implement ``_move_base``, ``_home``, ``_set_gripper``, ``_stop``, ``_recover``, ``ee_pos``,
    ``gripper_width`` and ``_disconnect``.

    Args:
        name: device name used in every error message (e.g. ``"robot at 172.16.0.2"``).
        workspace: box the end-effector must stay in.
        max_step_m: largest end-effector move per axis per step, at most 2 cm.
        has_gripper: whether fingers are mounted (lift) or a peg (push).
    """

    def __init__(self, name: str, workspace: Workspace, max_step_m: float, has_gripper: bool):
        self.name = name
        self.workspace = workspace
        self.max_step_m = validate_max_step(max_step_m)
        self.has_gripper = has_gripper
        self.homed = False
        self.closed = False
        self.last_error: str | None = None
        """Controller error that the last recovery cleared (None when the last command succeeded)."""
        self._failed_after_recovery = False
        self._gripper_cmd: float | None = None

    # ------------------------------------------------------------------ primitives (subclasses)
    def _move_base(self, delta_xyz: np.ndarray) -> None:
        raise NotImplementedError

    def _home(self) -> None:
        raise NotImplementedError

    def _set_gripper(self, width: float) -> None:
        raise NotImplementedError

    def _stop(self) -> None:
        raise NotImplementedError

    def _recover(self) -> bool:
        raise NotImplementedError

    def _disconnect(self) -> None:
        """Releases the connection; default: nothing to release."""

    def ee_pos(self) -> np.ndarray:
        """Measured end-effector position (3,), base frame."""
        raise NotImplementedError

    def gripper_width(self) -> float:
        """Measured finger opening (m); 0 without a gripper."""
        raise NotImplementedError

    # ------------------------------------------------------------------ guarded public API
    def _guarded(self, what: str, fn: Any) -> bool:
        """Runs ``fn``; on a controller error: stop, recover once, report. True if ``fn`` succeeded."""
        if self.closed:
            raise HardwareError(f"{self.name}: {what} after close()")
        try:
            fn()
        except (KeyboardInterrupt, ValueError):
            self.stop()
            raise
        except Exception as e:  # franky/frankx raise their own exception types (and RuntimeError)
            cause = f"{type(e).__name__}: {e}"
            self.stop()
            if self._failed_after_recovery:
                self._failed_after_recovery = False  # the guard gives up; an explicit retry gets a fresh attempt
                raise HardwareError(
                    f"{self.name}: {what} failed again right after an error recovery ({cause}); "
                    "check the arm and its surroundings, then restart"
                ) from e
            self._failed_after_recovery = True
            logger.warning("%s: %s failed (%s); stopping and recovering once", self.name, what, cause)
            try:
                ok = self._recover()
            except Exception as e2:
                self._failed_after_recovery = False
                raise HardwareError(
                    f"{self.name}: {what} failed ({cause}) and the error recovery failed too "
                    f"({type(e2).__name__}: {e2})"
                ) from e
            if not ok:
                self._failed_after_recovery = False
                raise HardwareError(
                    f"{self.name}: {what} failed ({cause}); the automatic error recovery "
                    "did not clear the error (release the brakes / user stop in Desk?)"
                ) from e
            self.last_error = cause
            return False
        self._failed_after_recovery = False
        self.last_error = None
        return True

    def home(self) -> None:
        """Moves to the home pose and opens the gripper; retried once after a recovered error.

        Raises:
            HardwareError: homing failed twice or the recovery failed.
        """
        if not self._guarded("homing", self._home):
            self._guarded("homing (retry after recovery)", self._home)
            if self.last_error is not None:
                raise HardwareError(f"{self.name}: homing failed: {self.last_error}")
        self.homed = True
        self.open_gripper()

    def open_gripper(self) -> None:
        """Opens the fingers fully (no-op without a gripper)."""
        if self.has_gripper:
            self._gripper_cmd = None  # force the command even if the last one was "open"
            self._guarded("opening the gripper", lambda: self._command_gripper(GRIPPER_MAX_WIDTH))

    def _command_gripper(self, width: float) -> None:
        width = float(np.clip(width, 0.0, GRIPPER_MAX_WIDTH))
        # Finger commands block (~0.1-0.5 s on the real hand); re-sending an unchanged target every step
        # would stall the control loop for nothing.
        if self._gripper_cmd is not None and abs(width - self._gripper_cmd) < 0.002:
            return
        self._set_gripper(width)
        self._gripper_cmd = width

    def move_ee(self, delta_xyz: np.ndarray, gripper: float | None = None) -> np.ndarray:
        """One control step: move the end-effector by a clipped delta and set the finger opening.

        Args:
            delta_xyz: requested displacement (3,), base frame, metres.
            gripper: target finger opening (m), or ``None`` to keep the current one.

        Returns:
            The delta actually commanded (3,), or zeros if a controller error was recovered.

        Raises:
            ValueError: non-finite or wrongly shaped input (nothing moves).
            HardwareError: not homed yet, closed, or an unrecoverable controller error.
        """
        d = check_delta(delta_xyz)
        if gripper is not None and not math.isfinite(gripper):
            raise ValueError(f"gripper command must be finite, got {gripper}")
        if not self.homed:
            raise HardwareError(f"{self.name}: refusing to move before home() (the env homes in reset())")
        safe = clip_delta(d, self.ee_pos(), self.workspace, self.max_step_m)

        def step() -> None:
            if gripper is not None and self.has_gripper:
                self._command_gripper(gripper)
            self._move_base(safe)

        return safe if self._guarded("end-effector move", step) else np.zeros(3)

    def recover(self) -> bool:
        """Runs the automatic error recovery; returns whether it succeeded."""
        try:
            return bool(self._recover())
        except Exception as e:
            logger.warning("%s: error recovery failed: %s", self.name, e)
            return False

    def stop(self) -> None:
        """Stops any motion; never raises (it is called on the way out of errors)."""
        try:
            self._stop()
        except Exception as e:  # a lost connection must not mask the error being handled
            logger.warning("%s: stop failed: %s", self.name, e)

    def close(self) -> None:
        """Stops the arm and disconnects; safe to call twice."""
        if self.closed:
            return
        self.stop()
        self.closed = True
        self.homed = False
        try:
            self._disconnect()
        except Exception as e:
            logger.warning("%s: disconnect failed: %s", self.name, e)


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
        force_threshold: float = 30.0,
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
        force_threshold: float = 30.0,
    ):
        super().__init__("sim robot", workspace or physics.workspace, max_step_m, physics.task == "lift")
        self.physics = physics
        self.force_threshold = force_threshold
        self.fault: str | None = None
        self.stop_count = 0
        self.recover_count = 0
        m = physics.model
        base = m.body("robot_base").id
        robot_bodies = {b for b in range(m.nbody) if _is_descendant(m.body_parentid, b, base)}
        self._robot_geom = np.array([m.geom_bodyid[g] in robot_bodies for g in range(m.ngeom)])
        self._force = np.zeros(6)

    def contact_force(self) -> float:
        """Total normal contact force (N) on the robot's geoms right now."""
        import mujoco

        m, d = self.physics.model, self.physics.data
        total = 0.0
        for i in range(d.ncon):
            c = d.contact[i]
            if self._robot_geom[c.geom1] or self._robot_geom[c.geom2]:
                mujoco.mj_contactForce(m, d, i, self._force)
                total += abs(self._force[0])
        return total

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


def _is_descendant(parent: np.ndarray, body: int, ancestor: int) -> bool:
    while body != 0:
        if body == ancestor:
            return True
        body = int(parent[body])
    return ancestor == 0
