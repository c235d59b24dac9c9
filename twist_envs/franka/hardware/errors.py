"""The one exception type the hardware layer raises for device trouble."""

from __future__ import annotations


class HardwareError(RuntimeError):
    """A camera or robot is missing, unreachable, or failed in a way one recovery attempt could not fix.

    The message always names the device (``RealSense camera``, ``robot at 172.16.0.2``) and the cause, so
    the person next to the robot knows what to check without reading a traceback.
    """
