"""The robot protocol and the safety layer every arm implementation derives from.

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

Implementations only provide primitives (``_move_base``, ``_home``, ``_stop``, ``_recover`` ...).
"""

from __future__ import annotations

import logging
import math
import socket
from typing import Any, Protocol, runtime_checkable

import numpy as np

from twist_envs.franka.hardware.errors import HardwareError
from twist_envs.franka.scene.geometry import Workspace
from twist_envs.franka.tasks import GRIPPER_MAX_WIDTH

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
