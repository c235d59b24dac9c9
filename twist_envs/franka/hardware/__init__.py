"""Real-robot hardware behind small protocols: cameras, arms, and a colour block/goal detector.

Optional dependencies (``pip install twist[real]``) are imported only when a device is opened, so this
package imports without them.
"""

from twist_envs.franka.hardware.camera import (
    Camera,
    RealSenseCamera,
    RealSenseConfig,
    ReplayCamera,
    SimCamera,
)
from twist_envs.franka.hardware.errors import HardwareError
from twist_envs.franka.hardware.robot import FrankxRobot, FrankyRobot, GuardedRobot, Robot, SimRobot

__all__ = [
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
]
