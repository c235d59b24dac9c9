"""Colour-based block and goal detector with a table-plane calibration (OpenCV).

The yellow cube and the red goal marker are found by HSV thresholds; the centroid of the largest blob of
each colour is mapped from the image to the table plane (robot base frame) by a homography. Two
homographies are kept: one for the plane through the cube's centre (4 cm cubes are seen from the side, so
their blob centroid sits near the centre height) and one for the tabletop (the flat goal marker).

Calibration, two ways:

- on the robot: place the cube (and the marker) on >= 4 known table points and record where the detector
  sees it: ``DetectorCalibration.from_correspondences`` (see docs/hardware.md for the procedure);
- from a MuJoCo camera (sim twin, tests): ``DetectorCalibration.from_mujoco_camera`` projects points
  of both planes with the pinhole model of the named camera.

Pixel coordinates are normalised to [0, 1] (u right, v down) so one calibration serves any image size of
the same view.

The detector sees the cube only while it rests on the table. For BlockLift it therefore cannot measure the
lift height; ``readout`` treats the cube as held (at the tool tip) when the fingers are closed to about the
cube's width and the cube is no longer seen on the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twist_envs.franka.hardware.camera import import_cv2
from twist_envs.franka.tasks import BLOCK_SIZE, TABLE_HEIGHT, TaskReadout


@dataclass(frozen=True)
class PlaneCalibration:
    """Homography from normalised image coordinates to (x, y) on a horizontal plane."""

    homography: tuple[tuple[float, float, float], ...]
    """3x3 matrix H with ``[x, y, 1] ~ H [u, v, 1]`` (u, v in [0, 1])."""
    height: float
    """z of the plane in the base frame (m)."""

    @staticmethod
    def fit(uv: np.ndarray, xy: np.ndarray, height: float) -> PlaneCalibration:
        """Least-squares homography from >= 4 correspondences.

        Args:
            uv: normalised image points, shape (N, 2).
            xy: matching plane points (base frame, m), shape (N, 2).
            height: z of the plane.

        Raises:
            ValueError: fewer than 4 points or a degenerate configuration (e.g. collinear).
        """
        uv, xy = np.asarray(uv, np.float64), np.asarray(xy, np.float64)
        if uv.shape != xy.shape or uv.ndim != 2 or uv.shape[1] != 2 or len(uv) < 4:
            raise ValueError(f"need >= 4 matching (u, v) and (x, y) points, got {uv.shape} and {xy.shape}")
        cv2 = import_cv2()
        h, _ = cv2.findHomography(uv, xy, 0)
        if h is None or not np.all(np.isfinite(h)):
            raise ValueError("degenerate calibration points (are 3 of them on one line?)")
        return PlaneCalibration(tuple(tuple(float(v) for v in row) for row in h), float(height))

    def to_plane(self, uv: np.ndarray) -> np.ndarray:
        """Maps normalised image points (N, 2) or (2,) to plane (x, y)."""
        uv = np.asarray(uv, np.float64)
        pts = np.atleast_2d(uv)
        p = np.c_[pts, np.ones(len(pts))] @ np.asarray(self.homography).T  # (N, 3)
        out = p[:, :2] / p[:, 2:3]
        return out[0] if uv.ndim == 1 else out

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Maps plane points (N, 2) or (2,) to normalised image coordinates."""
        xy = np.asarray(xy, np.float64)
        pts = np.atleast_2d(xy)
        p = np.c_[pts, np.ones(len(pts))] @ np.linalg.inv(np.asarray(self.homography)).T
        out = p[:, :2] / p[:, 2:3]
        return out[0] if xy.ndim == 1 else out


@dataclass(frozen=True)
class DetectorCalibration:
    """Image-to-table mappings for the cube centre and the goal marker."""

    block: PlaneCalibration
    """Plane through the cube centre (z = table + 2 cm)."""
    goal: PlaneCalibration
    """Tabletop plane (the flat marker)."""

    @staticmethod
    def from_correspondences(
        block_uv: np.ndarray,
        block_xy: np.ndarray,
        goal_uv: np.ndarray | None = None,
        goal_xy: np.ndarray | None = None,
    ) -> DetectorCalibration:
        """Calibration from the detector's pixel positions of objects placed at known table points.

        Args:
            block_uv: where the detector saw the cube (normalised), (N, 2), N >= 4.
            block_xy: where the cube was (base frame, m), (N, 2).
            goal_uv: same for the goal marker; ``None`` reuses the cube's mapping (error ~1 cm).
            goal_xy: the marker's table points.
        """
        block = PlaneCalibration.fit(block_uv, block_xy, TABLE_HEIGHT + 0.5 * BLOCK_SIZE)
        if goal_uv is None or goal_xy is None:
            return DetectorCalibration(block, PlaneCalibration(block.homography, TABLE_HEIGHT))
        return DetectorCalibration(block, PlaneCalibration.fit(goal_uv, goal_xy, TABLE_HEIGHT))

    @staticmethod
    def from_mujoco_camera(model: Any, data: Any = None, camera: str = "policy") -> DetectorCalibration:
        """Exact calibration of a MuJoCo camera by projecting points of both planes (pinhole model).

        Args:
            model: ``mujoco.MjModel``.
            data: ``mujoco.MjData`` to read the camera pose from; ``None`` = a fresh one at ``qpos0``
                (enough for a camera fixed in the world).
            camera: camera name.
        """
        if data is None:
            import mujoco

            data = mujoco.MjData(model)
            mujoco.mj_forward(model, data)
        cam = model.camera(camera).id
        pos = data.cam_xpos[cam]
        rot = data.cam_xmat[cam].reshape(3, 3)  # columns: image right, image up, backwards
        half = np.tan(np.deg2rad(model.cam_fovy[cam]) / 2.0)  # square images: same in u and v
        grid = np.array([[x, y] for x in (0.3, 0.5, 0.7) for y in (-0.25, 0.0, 0.25)])

        def plane(z: float) -> PlaneCalibration:
            pts = np.c_[grid, np.full(len(grid), z)] - pos
            pc = pts @ rot  # (N, 3) in camera axes
            u = 0.5 + 0.5 * pc[:, 0] / (-pc[:, 2] * half)
            v = 0.5 - 0.5 * pc[:, 1] / (-pc[:, 2] * half)
            return PlaneCalibration.fit(np.c_[u, v], grid, z)

        return DetectorCalibration(plane(TABLE_HEIGHT + 0.5 * BLOCK_SIZE), plane(TABLE_HEIGHT))

    def save(self, path: str | Path) -> None:
        """Writes the calibration as JSON."""
        d = {
            k: {"homography": [list(r) for r in p.homography], "height": p.height}
            for k, p in (("block", self.block), ("goal", self.goal))
        }
        Path(path).write_text(json.dumps(d, indent=2))

    @staticmethod
    def load(path: str | Path) -> DetectorCalibration:
        """Reads a calibration written by ``save``."""
        d = json.loads(Path(path).read_text())

        def plane(k: str) -> PlaneCalibration:
            return PlaneCalibration(tuple(tuple(float(v) for v in r) for r in d[k]["homography"]), d[k]["height"])

        return DetectorCalibration(plane("block"), plane("goal"))


HSVRange = tuple[tuple[int, int, int], tuple[int, int, int]]
"""(low, high) HSV bounds in OpenCV units: H in [0, 180), S and V in [0, 255]."""


@dataclass(frozen=True)
class ColorConfig:
    """Colour thresholds and blob filtering."""

    block_hsv: tuple[HSVRange, ...] = (((18, 110, 110), (38, 255, 255)),)
    """Yellow cube (one or more HSV ranges, OR-ed)."""
    goal_hsv: tuple[HSVRange, ...] = (((0, 130, 90), (8, 255, 255)), ((170, 130, 90), (179, 255, 255)))
    """Red marker; red wraps around H = 0, hence two ranges."""
    min_area: float = 2e-5
    """Smallest blob, as a fraction of the image area, accepted as a detection (rejects noise)."""


@dataclass(frozen=True)
class Detection:
    """Where the detector found the cube and the goal (``None`` = not seen)."""

    block_xy: np.ndarray | None
    """Cube centre on the table (base frame, m), shape (2,)."""
    goal_xy: np.ndarray | None
    """Goal marker centre (base frame, m), shape (2,)."""
    block_uv: np.ndarray | None = field(default=None)
    """Cube blob centroid in normalised image coordinates."""
    goal_uv: np.ndarray | None = field(default=None)
    """Goal blob centroid in normalised image coordinates."""


class ColorDetector:
    """Finds the yellow cube and the red goal in an RGB image and maps them to the table.

    Args:
        calibration: image-to-table mapping for this camera view; ``None`` finds only the image positions
            (``block_uv``/``goal_uv``), which is what the calibration procedure records.
        colors: HSV thresholds.
    """

    def __init__(self, calibration: DetectorCalibration | None = None, colors: ColorConfig | None = None):
        self.calibration = calibration
        self.colors = colors or ColorConfig()
        self._cv2 = import_cv2()

    def _centroid(self, hsv: np.ndarray, ranges: tuple[HSVRange, ...]) -> np.ndarray | None:
        cv2 = self._cv2
        mask = np.zeros(hsv.shape[:2], np.uint8)
        for lo, hi in ranges:
            mask |= cv2.inRange(hsv, np.array(lo, np.uint8), np.array(hi, np.uint8))
        n, _, stats, cents = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if n <= 1:
            return None
        best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        h, w = mask.shape
        if stats[best, cv2.CC_STAT_AREA] < self.colors.min_area * h * w:
            return None
        return np.array([(cents[best][0] + 0.5) / w, (cents[best][1] + 0.5) / h])

    def detect(self, rgb: np.ndarray) -> Detection:
        """Detects cube and goal in a uint8 RGB image (H, W, 3) of the calibrated view."""
        hsv = self._cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), self._cv2.COLOR_RGB2HSV)
        buv = self._centroid(hsv, self.colors.block_hsv)
        guv = self._centroid(hsv, self.colors.goal_hsv)
        cal = self.calibration
        bxy = None if buv is None or cal is None else cal.block.to_plane(buv)
        gxy = None if guv is None or cal is None else cal.goal.to_plane(guv)
        return Detection(bxy, gxy, buv, guv)

    def readout(
        self,
        det: Detection,
        ee_pos: np.ndarray,
        gripper_width: float,
        goal_xy: np.ndarray | None = None,
    ) -> TaskReadout | None:
        """Turns a detection into the task's readout, or ``None`` if the cube's position is unknown.

        Args:
            det: output of ``detect``.
            ee_pos: measured tool-tip position (3,).
            gripper_width: measured finger opening (m); a width within 1.5 cm of the cube's size with the
                cube not seen on the table counts as holding it (the cube is then at the tool tip).
            goal_xy: goal to use when the marker is not visible (BlockLift has none: pass the block's
                initial xy).
        """
        ee = np.asarray(ee_pos, np.float64)
        if det.block_xy is not None:
            block = np.array([*det.block_xy, TABLE_HEIGHT + 0.5 * BLOCK_SIZE])
        elif abs(gripper_width - BLOCK_SIZE) < 0.015:
            block = ee.copy()
        else:
            return None
        g = det.goal_xy if det.goal_xy is not None else goal_xy
        goal = np.full(3, np.nan) if g is None else np.array([g[0], g[1], TABLE_HEIGHT])
        return TaskReadout(ee_pos=ee, block_pos=block, goal_pos=goal, gripper_width=float(gripper_width))


def alignment_overlay(real_rgb: np.ndarray, sim_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """Blends a real frame with the sim render of the same view and scores how well their edges agree.

    Used while mounting the camera (docs/hardware.md): move the camera until the score stops improving.

    Args:
        real_rgb: uint8 (H, W, 3) camera frame (already cropped like the policy image).
        sim_rgb: uint8 (H, W, 3) sim render of the policy camera, same size.

    Returns:
        ``(overlay, score)``: 50/50 blend with the sim edges drawn in green; score in [0, 1] = fraction of
        sim edge pixels that have a real edge within 2 px (1 = perfectly aligned).
    """
    cv2 = import_cv2()
    if real_rgb.shape != sim_rgb.shape:
        raise ValueError(f"real {real_rgb.shape} and sim {sim_rgb.shape} images must have the same shape")
    gray = [cv2.cvtColor(np.ascontiguousarray(im, np.uint8), cv2.COLOR_RGB2GRAY) for im in (real_rgb, sim_rgb)]
    edges = [cv2.Canny(g, 50, 150) > 0 for g in gray]
    near_real = cv2.dilate(edges[0].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    score = float((edges[1] & near_real).sum() / max(1, edges[1].sum()))
    overlay = (0.5 * real_rgb.astype(np.float32) + 0.5 * sim_rgb.astype(np.float32)).astype(np.uint8)
    overlay[edges[1]] = (0, 255, 0)
    return overlay, score
