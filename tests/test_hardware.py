"""Hardware layer without hardware: safety rules of GuardedRobot on the sim twin, fast failures, detector.

Each safety rule has a test here that fails if the rule is removed from ``hardware/robot/base.py``.
Network traffic goes to loopback addresses only.
"""

from __future__ import annotations

import random
import sys
import time

import numpy as np
import pytest
from gymnasium.error import DependencyNotInstalled

from twist_envs.franka.hardware import HardwareError, RealSenseCamera, ReplayCamera, SimCamera, SimRobot
from twist_envs.franka.hardware.camera import square_crop_resize
from twist_envs.franka.hardware.detector import (
    ColorDetector,
    DetectorCalibration,
    PlaneCalibration,
    alignment_overlay,
)
from twist_envs.franka.hardware.robot import (
    FCI_PORT,
    FrankxRobot,
    FrankyRobot,
    check_delta,
    clip_delta,
    probe_tcp,
    validate_max_step,
)
from twist_envs.franka.scene import CameraPose, FrankaPhysics, Workspace
from twist_envs.franka.tasks import BlockPushTask


def closed_loopback_address() -> str:
    """A loopback address nobody listens on at the FCI port (franky-sim may occupy 127.0.0.x)."""
    rng = random.Random()
    for _ in range(50):
        addr = f"127.{rng.randint(100, 250)}.{rng.randint(0, 250)}.{rng.randint(1, 250)}"
        if probe_tcp(addr, FCI_PORT, 0.5) is not None:
            return addr
    raise RuntimeError("no free loopback address found")


@pytest.fixture(scope="module")
def push_physics():
    p = FrankaPhysics("push")
    yield p
    p.close()


@pytest.fixture
def sim_robot(push_physics):
    return SimRobot(push_physics)


# ---------------------------------------------------------------- pure safety functions
def test_check_delta_rejects_bad_input():
    for bad in ([np.nan, 0, 0], [0, np.inf, 0], [0, 0], [[0, 0, 0]], [0, 0, 0, 0]):
        with pytest.raises(ValueError):
            check_delta(np.array(bad, dtype=np.float64))
    np.testing.assert_array_equal(check_delta([0.01, 0, 0]), [0.01, 0, 0])


def test_clip_delta_limits_step_and_keeps_target_in_box():
    ws = Workspace((0.3, -0.3, 0.01), (0.75, 0.3, 0.3))
    ee = np.array([0.74, 0.0, 0.2])
    d = clip_delta(np.array([0.5, -0.5, 0.005]), ee, ws, 0.02)
    np.testing.assert_allclose(d, [0.01, -0.02, 0.005])  # x stops at the wall, y at 2 cm
    # Starting outside the box, the way back in is also limited to 2 cm per axis.
    d = clip_delta(np.zeros(3), np.array([0.9, 0.0, 0.2]), ws, 0.02)
    np.testing.assert_allclose(d, [-0.02, 0.0, 0.0])


def test_max_step_above_2cm_is_refused():
    assert validate_max_step(0.01) == 0.01
    for bad in (0.0, -0.01, 0.021, 0.1):
        with pytest.raises(ValueError, match="max_step_m"):
            validate_max_step(bad)


# ---------------------------------------------------------------- GuardedRobot rules on the sim twin
def test_no_motion_before_home(push_physics):
    robot = SimRobot(push_physics)
    push_physics.home()
    t0, ee0 = push_physics.data.time, push_physics.ee_pos()
    with pytest.raises(HardwareError, match="before home"):
        robot.move_ee(np.array([0.02, 0.0, 0.0]))
    assert push_physics.data.time == t0
    np.testing.assert_array_equal(push_physics.ee_pos(), ee0)


def test_nan_inf_shape_rejected_without_motion(sim_robot, push_physics):
    sim_robot.home()
    t0 = push_physics.data.time
    for bad in ([np.nan, 0, 0], [np.inf, 0, 0], [0.01, 0.0]):
        with pytest.raises(ValueError):
            sim_robot.move_ee(np.array(bad))
    with pytest.raises(ValueError):
        sim_robot.move_ee(np.zeros(3), gripper=float("nan"))
    assert push_physics.data.time == t0  # no physics step happened


def test_per_step_limit_reaches_the_controller(sim_robot, push_physics):
    sim_robot.home()
    ee0 = push_physics.ee_pos()
    commanded = sim_robot.move_ee(np.array([0.1, 0.0, -0.1]))
    np.testing.assert_allclose(commanded, [0.02, 0.0, -0.02])
    assert np.max(np.abs(push_physics.ee_pos() - ee0)) <= 0.021


def test_workspace_box_enforced_by_the_robot(push_physics):
    # The scene's own workspace is the large default; the robot's smaller box must win.
    small = Workspace((0.40, -0.05, 0.15), (0.48, 0.05, 0.25))
    robot = SimRobot(push_physics, workspace=small)
    robot.home()
    for _ in range(6):
        robot.move_ee(np.array([0.02, 0.02, 0.02]))
    assert small.contains(push_physics.ee_pos(), tol=0.003), push_physics.ee_pos()


def test_reflex_is_recovered_once_then_hardware_error():
    # Workspace reaching 5 cm into the table: pressing the peg down triggers the twin's collision reflex.
    deep = Workspace((0.30, -0.30, -0.05), (0.75, 0.30, 0.30))
    physics = FrankaPhysics("push", workspace=deep)
    try:
        robot = SimRobot(physics, workspace=deep)
        robot.home()
        for _ in range(30):
            robot.move_ee(np.array([0.0, 0.0, -0.02]))
            if robot.last_error is not None:
                break
        assert robot.last_error is not None and "reflex" in robot.last_error
        assert robot.recover_count == 1 and robot.stop_count >= 1
        # A command after the recovery that fails again is not retried: HardwareError naming the cause.
        with pytest.raises(HardwareError, match="reflex"):
            for _ in range(5):
                robot.move_ee(np.array([0.0, 0.0, -0.02]))
        # Recovered the same way and homed (out of the table), moving is fine again.
        robot.recover()
        robot.home()
        robot.move_ee(np.array([0.0, 0.0, 0.02]))
        assert robot.last_error is None
    finally:
        physics.close()


def test_close_stops_and_refuses_motion(push_physics):
    robot = SimRobot(push_physics)
    robot.home()
    robot.close()
    robot.close()  # idempotent
    assert robot.stop_count == 1 and robot.closed
    with pytest.raises(HardwareError):
        robot.move_ee(np.zeros(3))


# ---------------------------------------------------------------- fast failures without hardware
def test_unreachable_robot_fails_fast_naming_the_address():
    pytest.importorskip("franky")
    addr = closed_loopback_address()
    t = time.monotonic()
    with pytest.raises(HardwareError, match=f"robot at {addr} unreachable"):
        FrankyRobot(addr, connect_timeout_s=1.0)
    assert time.monotonic() - t < 5.0


def test_missing_realsense_fails_fast_naming_the_camera():
    rs = pytest.importorskip("pyrealsense2")
    if len(rs.context().query_devices()) > 0:
        pytest.skip("a RealSense camera is connected")
    cam = RealSenseCamera()
    t = time.monotonic()
    with pytest.raises(HardwareError, match="No RealSense camera found"):
        cam.start()
    assert time.monotonic() - t < 5.0
    cam.stop()  # safe after a failed start


def test_missing_packages_name_the_pip_extra(monkeypatch):
    # sys.modules[name] = None is how Python spells "this package is not installed" to the import system.
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)
    monkeypatch.setitem(sys.modules, "franky", None)
    with pytest.raises(DependencyNotInstalled, match=r"pip install twist\[real\]"):
        RealSenseCamera().start()
    with pytest.raises(DependencyNotInstalled, match=r"franky.*pip install twist\[real\]"):
        FrankyRobot("127.0.0.1")


def test_frankx_error_explains_the_missing_wheel():
    try:
        import frankx  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("frankx is installed")
    with pytest.raises(DependencyNotInstalled, match=r"no wheel for Python >= 3.10.*franky"):
        FrankxRobot("127.0.0.1")


# ---------------------------------------------------------------- cameras and detector
def test_sim_camera_renders_the_scene_the_robot_moves(push_physics):
    cam = SimCamera(push_physics, size=64)
    with pytest.raises(HardwareError):
        cam.read()
    cam.start()
    robot = SimRobot(push_physics)
    robot.home()
    before = cam.read()
    for _ in range(5):
        robot.move_ee(np.array([0.0, 0.02, -0.02]))
    after = cam.read()
    assert before.shape == (64, 64, 3) and before.dtype == np.uint8
    assert np.abs(after.astype(int) - before.astype(int)).sum() > 0
    cam.stop()
    assert not cam.started


def test_square_crop_resize():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 320:] = 255  # right half of the centred square is white
    out = square_crop_resize(frame, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out[:, :30].max() == 0 and out[:, 34:].min() == 255
    with pytest.raises(ValueError, match="crop"):
        square_crop_resize(frame, 64, crop=(0, 0, 700, 480))


def test_detector_finds_block_and_goal_in_the_sim_view(push_physics):
    push_physics.home()
    det = ColorDetector(DetectorCalibration.from_mujoco_camera(push_physics.model, push_physics.data))
    rng = np.random.default_rng(0)
    for _ in range(4):
        block, goal = BlockPushTask().sample_initial(rng)  # >= 10 cm apart, as in episodes
        push_physics.place(block, goal)
        d = det.detect(push_physics.render(128))
        assert np.linalg.norm(d.block_xy - block) < 0.01, (d.block_xy, block)
        assert np.linalg.norm(d.goal_xy - goal) < 0.01, (d.goal_xy, goal)
    # An empty image holds neither object.
    empty = det.detect(np.full((64, 64, 3), 128, np.uint8))
    assert empty.block_xy is None and empty.goal_xy is None


def test_calibration_from_correspondences_and_json_roundtrip(tmp_path):
    true_h = np.array([[0.5, 0.02, 0.3], [0.01, -0.6, 0.25], [0.05, 0.1, 1.0]])
    cal = PlaneCalibration(tuple(map(tuple, true_h)), 0.02)
    uv = np.array([[0.1, 0.1], [0.9, 0.15], [0.85, 0.9], [0.2, 0.8], [0.5, 0.5]])
    xy = cal.to_plane(uv)
    fitted = DetectorCalibration.from_correspondences(uv, xy)
    np.testing.assert_allclose(fitted.block.to_plane(uv), xy, atol=1e-6)
    np.testing.assert_allclose(fitted.block.to_image(xy), uv, atol=1e-6)
    fitted.save(tmp_path / "cal.json")
    loaded = DetectorCalibration.load(tmp_path / "cal.json")
    np.testing.assert_allclose(loaded.goal.to_plane(uv), xy, atol=1e-6)
    with pytest.raises(ValueError, match=">= 4"):
        PlaneCalibration.fit(uv[:3], xy[:3], 0.0)


def test_alignment_overlay_scores_a_moved_camera_lower():
    def render(pose: CameraPose) -> np.ndarray:
        p = FrankaPhysics("push", camera=pose)
        try:
            p.home()
            return p.render(128)
        finally:
            p.close()

    from twist_envs.franka.scene import DEFAULT_CAMERA

    ref = render(DEFAULT_CAMERA)
    moved = render(CameraPose((1.05, 0.55, 0.6), DEFAULT_CAMERA.lookat, DEFAULT_CAMERA.fovy))
    overlay, same = alignment_overlay(ref, ref)
    _, off = alignment_overlay(moved, ref)
    assert overlay.shape == ref.shape and same == pytest.approx(1.0)
    assert off < same - 0.1


# ---------------------------------------------------------------- physical hardware (pytest --hardware)
ROBOT_IP = "172.16.0.2"


@pytest.mark.hardware
def test_realsense_streams_policy_images():
    cam = RealSenseCamera(64)
    cam.start()
    try:
        frames = [cam.read() for _ in range(5)]
        assert all(f.shape == (64, 64, 3) and f.dtype == np.uint8 for f in frames)
        assert cam.read_full().shape == (480, 640, 3)
    finally:
        cam.stop()


@pytest.mark.hardware
def test_franka_homes_and_moves_in_the_base_frame():
    robot = FrankyRobot(ROBOT_IP, has_gripper=False)
    try:
        robot.home()
        for axis in range(3):
            delta = np.zeros(3)
            delta[axis] = 0.01
            before = robot.ee_pos()
            robot.move_ee(delta)
            np.testing.assert_allclose(robot.ee_pos() - before, delta, atol=3e-3)
    finally:
        robot.close()


def test_replay_camera_plays_recorded_frames(tmp_path):
    frames = np.stack([np.full((96, 128, 3), i * 40, np.uint8) for i in range(3)])
    np.savez_compressed(tmp_path / "ep.npz", pixels=frames)
    cam = ReplayCamera(str(tmp_path / "ep.npz"), size=32, loop=False)
    cam.start()
    got = [cam.read() for _ in range(3)]
    assert [int(g[0, 0, 0]) for g in got] == [0, 40, 80] and got[0].shape == (32, 32, 3)
    with pytest.raises(HardwareError, match="all 3 recorded frames"):
        cam.read()
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        ReplayCamera(np.zeros((4, 4, 3), np.uint8))
