"""Robots and cameras by name: the one table of backends the real env (and scripts) build devices from.

``make_robot("franky" | "frankx" | "sim", ...)`` and ``make_camera("realsense" | "sim", ...)`` build a device
from its name; :func:`missing_packages` lists the pip packages a choice of names needs, so a caller can report
all of them at once before any device is touched. Nothing is imported or opened until a device is built.

Example:
    >>> from twist_envs.franka.scene import FrankaPhysics
    >>> physics = FrankaPhysics("push")
    >>> robot, camera = make_robot("sim", physics=physics), make_camera("sim", physics=physics, size=32)
    >>> type(robot).__name__, type(camera).__name__, camera.size
    ('SimRobot', 'SimCamera', 32)
    >>> physics.close()
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from twist_envs.franka.hardware.camera import Camera, RealSenseCamera, RealSenseConfig, SimCamera
from twist_envs.franka.hardware.robot import FrankxRobot, FrankyRobot, GuardedRobot, SimRobot
from twist_envs.franka.scene.geometry import DEFAULT_WORKSPACE, Workspace

if TYPE_CHECKING:
    from twist_envs.franka.scene.physics import FrankaPhysics

ROBOTS: tuple[str, ...] = ("franky", "frankx", "sim")
"""Robot backends by name: franky-control, frankx, and the sim twin (:class:`SimRobot`)."""
CAMERAS: tuple[str, ...] = ("realsense", "sim")
"""Camera backends by name: an Intel RealSense, and the sim twin (:class:`SimCamera`)."""
SIM = "sim"
"""The name of the sim twin of both the robot and the camera."""

PACKAGES: dict[str, tuple[tuple[str, str], ...]] = {
    "franky": (("franky", "franky-control"),),
    "realsense": (("pyrealsense2", "pyrealsense2"), ("cv2", "opencv-python-headless")),
    "detector": (("cv2", "opencv-python-headless"),),
}
"""(module, pip name) pairs each backend imports when it opens its device (frankx explains its own absence:
it has no wheel for this Python). ``"detector"`` is the colour detector's."""


def missing_packages(*names: str) -> list[str]:
    """The pip names of the packages that the backends ``names`` need and that are not installed.

    Example:
        >>> missing_packages("sim")
        []
    """
    return [pip for name in names for module, pip in PACKAGES.get(name, ()) if importlib.util.find_spec(module) is None]


def make_robot(
    name: str,
    *,
    physics: FrankaPhysics | None = None,
    ip: str = "172.16.0.2",
    workspace: Workspace = DEFAULT_WORKSPACE,
    max_step_m: float = 0.02,
    has_gripper: bool = True,
    **kwargs: Any,
) -> GuardedRobot:
    """The robot backend ``name``, connected (real arms are probed on their FCI port first).

    Args:
        name: ``"franky"``, ``"frankx"`` or ``"sim"``.
        physics: the sim twin's scene (``"sim"`` only; required there).
        ip: FCI address of the robot's control box (real arms).
        workspace: box the tool tip stays in.
        max_step_m: largest tool move per axis per step (<= 2 cm).
        has_gripper: whether the Franka hand is mounted (real arms; the sim twin reads it from the scene).
        **kwargs: further arguments of the backend's class (e.g. ``dynamics_factor``, ``force_threshold``).

    Raises:
        ValueError: an unknown name, or ``"sim"`` without ``physics``.
        gymnasium.error.DependencyNotInstalled: the backend's package is missing.
        HardwareError: the arm is unreachable or the connection failed.
    """
    if name == SIM:
        if physics is None:
            raise ValueError("make_robot: robot='sim' drives the sim twin's scene: pass physics=FrankaPhysics(...)")
        return SimRobot(physics, workspace=workspace, max_step_m=max_step_m, **kwargs)
    if name == "franky":
        return FrankyRobot(ip, workspace=workspace, max_step_m=max_step_m, has_gripper=has_gripper, **kwargs)
    if name == "frankx":
        return FrankxRobot(ip, workspace=workspace, max_step_m=max_step_m, has_gripper=has_gripper, **kwargs)
    raise ValueError(f"make_robot: robot must be one of {ROBOTS}, got {name!r}")


def make_camera(
    name: str,
    *,
    physics: FrankaPhysics | None = None,
    size: int = 64,
    serial: str | None = None,
    **kwargs: Any,
) -> Camera:
    """The camera backend ``name``, not started yet (``start()`` acquires the device).

    Args:
        name: ``"realsense"`` or ``"sim"``.
        physics: the sim twin's scene (``"sim"`` only; required there).
        size: side of the square policy image.
        serial: serial number of the RealSense to open (``None``: the only one connected).
        **kwargs: further :class:`RealSenseConfig` fields (e.g. ``crop``, ``exposure_us``), or for ``"sim"``
            further :class:`SimCamera` arguments (``camera``, ``full_size``).

    Raises:
        ValueError: an unknown name, or ``"sim"`` without ``physics``.
    """
    if name == SIM:
        if physics is None:
            raise ValueError("make_camera: camera='sim' renders the sim twin's scene: pass physics=FrankaPhysics(...)")
        return SimCamera(physics, size, **kwargs)
    if name == "realsense":
        return RealSenseCamera(size, RealSenseConfig(serial=serial, **kwargs))
    raise ValueError(f"make_camera: camera must be one of {CAMERAS}, got {name!r}")
