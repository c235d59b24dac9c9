"""Real-robot hardware behind small protocols: cameras, arms, and a colour block/goal detector.

Optional dependencies (``pip install twist[real]``) are imported only when a device is opened, so this
package imports without them. ``make_robot`` / ``make_camera`` build a device from its name
(``hardware/factory.py``).
"""

from twist_envs.franka.hardware.camera import (
    Camera,
    RealSenseCamera,
    RealSenseConfig,
    ReplayCamera,
    SimCamera,
)
from twist_envs.franka.hardware.errors import HardwareError
from twist_envs.franka.hardware.factory import CAMERAS, ROBOTS, make_camera, make_robot
from twist_envs.franka.hardware.robot import FrankxRobot, FrankyRobot, GuardedRobot, Robot, SimRobot

__all__ = [
    "CAMERAS",
    "ROBOTS",
    "Camera",
    "FrankxRobot",
    "FrankyRobot",
    "GuardedRobot",
    "HardwareError",
    "RealSenseCamera",
    "RealSenseConfig",
    "ReplayCamera",
    "Robot",
    "SimCamera",
    "SimRobot",
    "make_camera",
    "make_robot",
]
