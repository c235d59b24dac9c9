"""Geometry of the Franka block scene: names, the tool's dimensions, camera poses and the workspace box.

Plain data shared by the MJCF composition (:mod:`.mjcf`), the physics (:mod:`.physics`) and the hardware
layer (``hardware/robot``), which needs the workspace and home pose but no MuJoCo model.
World frame = robot base frame; the tabletop is the plane ``z = TABLE_HEIGHT``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twist_envs.franka.tasks import TABLE_HEIGHT

ARM_JOINTS: tuple[str, ...] = tuple(f"robot:panda0_joint{i}" for i in range(1, 8))
"""Names of the seven arm joints in the gymnasium-robotics Panda model."""
FINGER_JOINTS: tuple[str, ...] = ("robot:panda0_finger_joint1", "robot:panda0_finger_joint2")
"""Names of the two finger slide joints (BlockLift only)."""
EE_SITE = "ee"
"""Site at the tool tip (peg tip, or between the fingertips); what ``ee_pos`` reads."""
FINGER_PAD_OFFSET = 0.017
"""Finger joint opening (sum of both slide joints) at which the pads of this model touch: the gap between
the pads is ``q1 + q2 - FINGER_PAD_OFFSET`` (measured by closing the hand on the 4 cm cube)."""
PEG_LENGTH = 0.12
"""Length of the pushing peg from the flange (m)."""
PEG_RADIUS = 0.008
"""Radius of the peg (m). Thin, so that it touches the cube low: a push above ~2.5 cm would tip it over."""
TASKS = ("push", "lift")


@dataclass(frozen=True)
class CameraPose:
    """A camera placed by position and look-at point (base frame, metres)."""

    pos: tuple[float, float, float]
    """Camera position."""
    lookat: tuple[float, float, float]
    """Point at the image centre."""
    fovy: float
    """Vertical field of view (degrees)."""

    def __post_init__(self) -> None:
        if len(self.pos) != 3 or len(self.lookat) != 3:
            raise ValueError(f"CameraPose: pos and lookat must be (x, y, z), got {self.pos}, {self.lookat}")
        if np.allclose(self.pos, self.lookat):
            raise ValueError(f"CameraPose: pos and lookat must differ, both are {self.pos}")
        if not 0.0 < self.fovy < 180.0:
            raise ValueError(f"CameraPose: fovy must be in (0, 180) degrees, got {self.fovy}")

    def xyaxes(self) -> tuple[float, ...]:
        """MJCF ``xyaxes`` (image right, image up) of a camera at ``pos`` looking at ``lookat``, z up."""
        fwd = np.asarray(self.lookat, float) - np.asarray(self.pos, float)
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        if np.linalg.norm(right) < 1e-6:  # looking straight down: pick image right = -y
            right = np.array([0.0, -1.0, 0.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, fwd)
        return tuple(float(v) for v in (*right, *up))


DEFAULT_CAMERA = CameraPose(pos=(1.2, 0.45, 0.9), lookat=(0.45, 0.0, 0.12), fovy=40.0)
"""Third-person view in front of the robot, to one side, like the paper's RealSense: block, goal and
tool all visible at 64 x 64."""


@dataclass(frozen=True)
class Workspace:
    """Axis-aligned box (base frame, metres) the end-effector must stay in."""

    low: tuple[float, float, float]
    """Lower corner (x, y, z)."""
    high: tuple[float, float, float]
    """Upper corner (x, y, z)."""

    def __post_init__(self) -> None:
        if not all(lo < hi for lo, hi in zip(self.low, self.high, strict=True)):
            raise ValueError(f"Workspace: low {self.low} must be < high {self.high} on every axis")

    def clip(self, pos: np.ndarray) -> np.ndarray:
        """Returns ``pos`` (3,) clipped into the box."""
        return np.clip(np.asarray(pos, dtype=np.float64), self.low, self.high)

    def contains(self, pos: np.ndarray, tol: float = 0.0) -> bool:
        """Whether ``pos`` (3,) lies in the box grown by ``tol`` on every side."""
        p = np.asarray(pos)
        return bool(np.all(p >= np.asarray(self.low) - tol) and np.all(p <= np.asarray(self.high) + tol))


DEFAULT_WORKSPACE = Workspace(
    low=(0.30, -0.25, TABLE_HEIGHT + 0.01),
    high=(0.70, 0.25, TABLE_HEIGHT + 0.30),
)
"""Above the table in front of the robot: the tool tip never goes lower than 1 cm above the tabletop."""
REFLEX_FORCE_N = 30.0
"""Contact force (N) on the arm above which its collision reflex stops it: the default of the real env's arm
backends (franky, the sim twin); the sim env can end an episode there too (``contact_force_limit``)."""

HOME_EE = np.array([0.45, 0.0, TABLE_HEIGHT + 0.20])
"""Tool-tip position after ``home()``."""
