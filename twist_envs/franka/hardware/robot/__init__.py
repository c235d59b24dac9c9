"""Robot arms behind one protocol, with the safety rules implemented once for all of them.

One module per concern; this package re-exports every public name, so
``from twist_envs.franka.hardware.robot import X`` works as before:

- :mod:`.base`: the :class:`Robot` protocol, the safety layer :class:`GuardedRobot` and its pure checks
  (:func:`check_delta`, :func:`clip_delta`, :func:`validate_max_step`, :func:`probe_tcp`);
- :mod:`.franky`: :class:`FrankyRobot` (franky-control, the maintained fork of frankx);
- :mod:`.frankx`: :class:`FrankxRobot` (frankx, where it installs);
- :mod:`.sim`: :class:`SimRobot`, the sim twin that drives the MuJoCo scene of the sim env.

``GuardedRobot``'s public methods are the only way to move the arm; they enforce no motion before homing,
finite well-shaped commands, the 2 cm per-step clip, the workspace box and one error recovery (see
:mod:`.base`). Implementations only provide primitives (``_move_base``, ``_home``, ``_stop``, ``_recover`` ...).

Frames: every public position and delta is in the robot *base* frame (x forward, z up), like the sim env.
franky/frankx relative Cartesian motions are expressed in the *end-effector* frame, so deltas are rotated
by the inverse of the current end-effector orientation before they are sent.
"""

from twist_envs.franka.hardware.robot.base import (
    DOWN_QUAT_XYZW,
    FCI_PORT,
    MAX_STEP_LIMIT_M,
    MIN_MOVE_M,
    READY_JOINTS,
    GuardedRobot,
    Robot,
    check_delta,
    clip_delta,
    probe_tcp,
    validate_max_step,
)
from twist_envs.franka.hardware.robot.frankx import FrankxRobot
from twist_envs.franka.hardware.robot.franky import FrankyRobot
from twist_envs.franka.hardware.robot.sim import SimReflexError, SimRobot

__all__ = [
    "DOWN_QUAT_XYZW",
    "FCI_PORT",
    "MAX_STEP_LIMIT_M",
    "MIN_MOVE_M",
    "READY_JOINTS",
    "FrankxRobot",
    "FrankyRobot",
    "GuardedRobot",
    "Robot",
    "SimReflexError",
    "SimRobot",
    "check_delta",
    "clip_delta",
    "probe_tcp",
    "validate_max_step",
]
