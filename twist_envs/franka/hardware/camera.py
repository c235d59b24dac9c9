"""Cameras behind one small protocol: a RealSense colour stream, a sim twin that renders MuJoCo, replay.

Both return what the policy sees: a uint8 RGB image of shape (size, size, 3), the same size as the
sim env's ``"pixels"``. The RealSense image is cropped to a square region of interest (chosen during the
view calibration, see docs/hardware.md) and resized with area averaging, which is what MuJoCo's
offscreen renderer approximates at low resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from gymnasium.error import DependencyNotInstalled

from twist_envs.franka.hardware.errors import HardwareError

if TYPE_CHECKING:
    from twist_envs.franka.scene import FrankaPhysics

REAL_EXTRA = "pip install twist[real]"
"""How to install the optional real-hardware dependencies; quoted by every ``DependencyNotInstalled``."""


@runtime_checkable
class Camera(Protocol):
    """Source of policy images.

    ``start()`` acquires the device, ``read()`` returns the latest frame as uint8 ``(size, size, 3)`` RGB,
    ``stop()`` releases the device and may be called any number of times.
    """

    size: int

    def start(self) -> None:
        """Acquires the device (idempotent)."""
        ...

    def read(self) -> np.ndarray:
        """Returns the newest frame, uint8, shape (size, size, 3), RGB."""
        ...

    def read_full(self) -> np.ndarray:
        """Returns the newest frame at full resolution, uncropped (what the detector is calibrated on)."""
        ...

    def stop(self) -> None:
        """Releases the device (idempotent; safe after a failed ``start``)."""
        ...


def import_cv2() -> Any:
    """Imports OpenCV or raises ``DependencyNotInstalled`` naming the pip extra."""
    try:
        import cv2
    except ImportError as e:
        raise DependencyNotInstalled(
            f"OpenCV is not installed (needed to resize camera frames and detect the block): {REAL_EXTRA}"
        ) from e
    return cv2


def square_crop_resize(frame: np.ndarray, size: int, crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Crops a frame to a region of interest and resizes it to ``size`` x ``size``.

    Args:
        frame: uint8 image, shape (H, W, 3).
        size: output side length in pixels.
        crop: ``(x0, y0, x1, y1)`` in pixels; ``None`` takes the centred square of side ``min(H, W)``.

    Returns:
        uint8 array of shape (size, size, 3).
    """
    h, w = frame.shape[:2]
    if crop is None:
        side = min(h, w)
        x0, y0 = (w - side) // 2, (h - side) // 2
        crop = (x0, y0, x0 + side, y0 + side)
    x0, y0, x1, y1 = crop
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise ValueError(f"crop {crop} does not lie inside the {w}x{h} frame")
    roi = frame[y0:y1, x0:x1]
    if roi.shape[:2] == (size, size):
        return np.ascontiguousarray(roi, dtype=np.uint8)
    cv2 = import_cv2()
    # INTER_AREA averages the source pixels under each output pixel: no aliasing on large down-scales.
    return cv2.resize(roi, (size, size), interpolation=cv2.INTER_AREA).astype(np.uint8)


@dataclass(frozen=True)
class RealSenseConfig:
    """Settings of the RealSense colour stream."""

    serial: str | None = None
    """Serial number of the camera to open; ``None`` opens the only one connected."""
    width: int = 640
    """Colour stream width (px); must be a mode the camera supports (640x480 at 30 fps on a D435i)."""
    height: int = 480
    """Colour stream height (px)."""
    fps: int = 30
    """Colour stream frame rate."""
    warmup_frames: int = 30
    """Frames read and dropped after start so auto-exposure and white balance settle (~1 s at 30 fps)."""
    exposure_us: float | None = None
    """Fixed exposure in microseconds (turns auto-exposure off), or ``None`` for auto-exposure."""
    frame_timeout_ms: int = 1000
    """How long ``read`` waits for a frame before raising ``HardwareError``."""
    crop: tuple[int, int, int, int] | None = None
    """Region of interest ``(x0, y0, x1, y1)`` matching the sim camera's view; ``None`` = centred square."""


class RealSenseCamera:
    """Intel RealSense (D435i in the paper) colour stream through ``pyrealsense2``.

    Nothing touches USB until ``start()``. ``start()`` first asks the library which devices are connected
    (a few milliseconds) so that a missing camera fails at once with a clear message instead of a timeout.

    Args:
        size: side of the square output image (the sim env's ``image_size``).
        config: stream settings.
    """

    def __init__(self, size: int = 64, config: RealSenseConfig | None = None):
        self.size = size
        self.config = config or RealSenseConfig()
        self._pipeline: Any = None
        self._serial: str | None = None

    @property
    def name(self) -> str:
        """Human-readable device name for error messages."""
        return f"RealSense camera {self._serial or self.config.serial or ''}".rstrip()

    def start(self) -> None:
        """Finds the camera, starts the colour stream, sets exposure and drops the warm-up frames.

        Raises:
            DependencyNotInstalled: ``pyrealsense2`` is not installed.
            HardwareError: no RealSense device (or not the requested serial) is connected, or it streams
                no frames.
        """
        if self._pipeline is not None:
            return
        try:
            import pyrealsense2 as rs
        except ImportError as e:
            raise DependencyNotInstalled(
                f"pyrealsense2 is not installed (needed for the RealSense camera): {REAL_EXTRA} "
                "(on Linux it also needs the system library libusb-1.0-0)"
            ) from e
        cfg = self.config
        serials = [d.get_info(rs.camera_info.serial_number) for d in rs.context().query_devices()]
        if not serials:
            raise HardwareError(
                "No RealSense camera found: pyrealsense2 sees no device. Plug the camera into a USB 3 "
                "port (check `rs-enumerate-devices` or `lsusb | grep Intel`), or pass camera='sim' for the "
                "sim twin."
            )
        if cfg.serial is not None and cfg.serial not in serials:
            raise HardwareError(f"RealSense camera with serial {cfg.serial} not found; connected: {serials}")
        self._serial = cfg.serial or serials[0]
        pipeline = rs.pipeline()
        rs_config = rs.config()
        rs_config.enable_device(self._serial)
        rs_config.enable_stream(rs.stream.color, cfg.width, cfg.height, rs.format.rgb8, cfg.fps)
        try:
            profile = pipeline.start(rs_config)
        except RuntimeError as e:
            raise HardwareError(
                f"{self.name}: could not start the {cfg.width}x{cfg.height}@{cfg.fps} colour stream: {e}"
            ) from e
        self._pipeline = pipeline
        try:
            sensor = profile.get_device().first_color_sensor()
            if cfg.exposure_us is None:
                sensor.set_option(rs.option.enable_auto_exposure, 1)
            else:
                # A fixed exposure keeps image statistics constant over an evaluation, as in training renders.
                sensor.set_option(rs.option.enable_auto_exposure, 0)
                sensor.set_option(rs.option.exposure, float(cfg.exposure_us))
            for _ in range(cfg.warmup_frames):
                self._wait_frame()
        except BaseException:
            self.stop()
            raise

    def _wait_frame(self) -> np.ndarray:
        try:
            frames = self._pipeline.wait_for_frames(self.config.frame_timeout_ms)
        except RuntimeError as e:
            raise HardwareError(
                f"{self.name}: no frame within {self.config.frame_timeout_ms} ms ({e}); check the USB cable"
            ) from e
        color = frames.get_color_frame()
        if not color:
            raise HardwareError(f"{self.name}: frame set without a colour frame")
        return np.asanyarray(color.get_data())  # (H, W, 3) RGB

    def read(self) -> np.ndarray:
        """Returns the newest colour frame, cropped and resized to (size, size, 3) uint8."""
        if self._pipeline is None:
            raise HardwareError(f"{self.name}: read() before start()")
        return square_crop_resize(self._wait_frame(), self.size, self.config.crop)

    def read_full(self) -> np.ndarray:
        """Returns the newest colour frame at stream resolution, uncropped (for calibration)."""
        if self._pipeline is None:
            raise HardwareError(f"{self.name}: read_full() before start()")
        return np.array(self._wait_frame(), copy=True)

    def stop(self) -> None:
        """Stops the stream and releases the USB device."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            try:
                pipeline.stop()
            except RuntimeError:
                pass  # already stopped by the library (e.g. device unplugged); nothing left to release


class SimCamera:
    """Sim twin of the camera: renders the MuJoCo scene that ``SimRobot`` moves.

    Args:
        physics: the shared Franka scene.
        size: side of the square output image.
        camera: name of the MuJoCo camera to render (the policy camera by default).
        full_size: side of the ``read_full`` image (the detector's input).
    """

    def __init__(self, physics: FrankaPhysics, size: int = 64, camera: str = "policy", full_size: int = 128):
        self.physics = physics
        self.size = size
        self.camera = camera
        self.full_size = full_size
        self.started = False

    def start(self) -> None:
        """Marks the camera as started (rendering needs no device)."""
        self.started = True

    def read(self) -> np.ndarray:
        """Renders the scene from the policy camera: uint8 (size, size, 3)."""
        if not self.started:
            raise HardwareError("sim camera: read() before start() or after stop()")
        return self.physics.render(self.size, camera=self.camera)

    def read_full(self) -> np.ndarray:
        """Renders the same view at ``full_size`` for the detector."""
        if not self.started:
            raise HardwareError("sim camera: read_full() before start() or after stop()")
        return self.physics.render(self.full_size, camera=self.camera)

    def stop(self) -> None:
        """Marks the camera as released."""
        self.started = False


class ReplayCamera:
    """Plays recorded frames back as if they were live (offline checks of a policy or the detector).

    Args:
        frames: uint8 array (T, H, W, 3), or the path of an ``.npz`` with such an array under ``"pixels"``
            (the episode store's format).
        size: side of the square output image.
        loop: start over after the last frame; otherwise ``read`` raises ``HardwareError`` there.
    """

    def __init__(self, frames: np.ndarray | str, size: int = 64, loop: bool = True):
        if not isinstance(frames, np.ndarray):
            with np.load(frames) as data:
                frames = data["pixels"]
        if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            raise ValueError(f"ReplayCamera: frames must be (T, H, W, 3) with T > 0, got {frames.shape}")
        self.frames = np.asarray(frames, dtype=np.uint8)
        self.size = size
        self.loop = loop
        self.started = False
        self._next = 0

    def start(self) -> None:
        """Rewinds to the first frame."""
        self.started, self._next = True, 0

    def read_full(self) -> np.ndarray:
        """The next recorded frame at its recorded size."""
        if not self.started:
            raise HardwareError("replay camera: read before start() or after stop()")
        if self._next >= len(self.frames):
            if not self.loop:
                raise HardwareError(f"replay camera: all {len(self.frames)} recorded frames played")
            self._next = 0
        frame = self.frames[self._next]
        self._next += 1
        return frame

    def read(self) -> np.ndarray:
        """The next recorded frame, cropped to a square and resized to (size, size, 3)."""
        return square_crop_resize(self.read_full(), self.size)

    def stop(self) -> None:
        """Marks the camera as released."""
        self.started = False
