"""The real env end to end with the sim twins (robot="sim", camera="sim"); its failures without hardware."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import DependencyNotInstalled, ResetNeeded
from gymnasium.utils.env_checker import check_env
from test_hardware import closed_loopback_address

import twist_envs  # noqa: F401  (registers the ids)
from twist_envs.franka.hardware import HardwareError, SimCamera
from twist_envs.franka.real import FrankaRealEnv, TerminalOperator
from twist_envs.franka.scene import Workspace

IDS = ("TWIST/BlockPush-Real-v0", "TWIST/BlockLift-Real-v0")


def make_sim(env_id: str = IDS[0], steps: int = 150, **kw) -> gym.Env:
    return gym.make(env_id, robot="sim", camera="sim", max_episode_steps=steps, episode_steps=steps, **kw)


def physics_time(env: gym.Env) -> float:
    return env.unwrapped.physics.data.time


# ---------------------------------------------------------------- without hardware
@pytest.mark.parametrize("env_id", IDS)
def test_make_without_hardware_fails_fast_naming_what_is_missing(env_id):
    rs = pytest.importorskip("pyrealsense2")
    if len(rs.context().query_devices()) > 0:
        pytest.skip("a RealSense camera is connected")
    t = time.monotonic()
    with pytest.raises(HardwareError, match="No RealSense camera found"):
        gym.make(env_id)  # the camera is checked first: no packet goes to 172.16.0.2
    assert time.monotonic() - t < 10.0


def test_unreachable_robot_fails_fast_naming_the_address():
    pytest.importorskip("franky")
    addr = closed_loopback_address()
    t = time.monotonic()
    with pytest.raises(HardwareError, match=f"robot at {addr} unreachable"):
        FrankaRealEnv(robot="franky", robot_ip=addr, camera="sim", robot_kwargs={"connect_timeout_s": 1.0})
    assert time.monotonic() - t < 10.0


def test_missing_packages_listed_with_the_pip_extra(monkeypatch):
    import sys

    for mod in ("pyrealsense2", "franky"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(DependencyNotInstalled, match=r"franky-control, pyrealsense2: pip install twist\[real\]"):
        FrankaRealEnv()


def test_bad_arguments_are_refused_before_any_device():
    for kw, word in (
        ({"robot": "ur5"}, "robot"),
        ({"camera": "webcam"}, "camera"),
        ({"success_from": "oracle"}, "success_from"),
        ({"max_step_m": 0.05}, "max_step_m"),
        ({"interactive": False}, "interactive=False"),
        ({"success_from": "detector"}, "calibration"),
    ):
        with pytest.raises(ValueError, match=word):
            FrankaRealEnv(**kw)


# ---------------------------------------------------------------- episodes with the sim twins
def test_full_push_episode_success_computed():
    env = make_sim(steps=8)
    try:
        assert set(env.observation_space.spaces) == {"pixels"}
        # Cube 3 cm from the goal: lifting the tool away keeps it there -> success at the episode's end.
        obs, info = env.reset(seed=1, options={"block_xy": [0.55, 0.0], "goal_xy": [0.58, 0.0]})
        assert obs["pixels"].shape == (64, 64, 3) and obs["pixels"].dtype == np.uint8
        n, trunc = 0, False
        while not trunc:
            obs, r, term, trunc, info = env.step(np.array([0.0, 0.0, 1.0], np.float32))
            n += 1
            assert not term and np.isfinite(r)
        assert n == 8 and info["success"] is True
        np.testing.assert_allclose(info["block_pos"][:2], [0.55, 0.0], atol=0.005)
        # The next episode: cube far from the goal -> failure.
        env.reset(seed=2, options={"block_xy": [0.45, -0.1], "goal_xy": [0.6, 0.15]})
        for _ in range(8):
            *_, info = env.step(np.zeros(3, np.float32))
        assert info["success"] is False
    finally:
        env.close()


def test_operator_callback_places_and_judges():
    class Recorder:
        def __init__(self):
            self.placed, self.asked = [], 0

        def place(self, task, block_xy, goal_xy):
            self.placed.append((task, np.array(block_xy), np.array(goal_xy)))

        def judge_success(self, task):
            self.asked += 1
            return True

    op = Recorder()
    env = make_sim(steps=3, operator=op)
    try:
        env.reset(seed=0)
        for _ in range(3):
            *_, info = env.step(env.action_space.sample())
        assert op.placed[0][0] == "push" and np.linalg.norm(op.placed[0][1] - op.placed[0][2]) >= 0.1
        assert op.asked == 1 and info["success"] is True
    finally:
        env.close()


def test_terminal_operator_prompts_until_answered():
    answers, shown = iter(["", "maybe", "Y"]), []
    op = TerminalOperator(input_fn=lambda prompt: (shown.append(prompt), next(answers))[1], print_fn=shown.append)
    op.place("push", np.array([0.5, 0.0]), np.array([0.6, 0.1]))
    assert "x=0.500" in shown[0] and "red goal at x=0.600" in shown[0]
    assert op.judge_success("push") is True
    assert sum("Success" in s for s in shown) == 2  # asked again after "maybe"


def test_detector_success_on_the_sim_twin():
    env = make_sim(steps=4, success_from="detector")
    try:
        env.reset(seed=0, options={"block_xy": [0.52, 0.05], "goal_xy": [0.55, 0.07]})
        for _ in range(4):
            *_, info = env.step(np.array([0.0, 0.0, 1.0], np.float32))
        truth = env.unwrapped.physics.block_pos()
        assert np.linalg.norm(info["block_pos"][:2] - truth[:2]) < 0.01
        assert info["success"] is True
    finally:
        env.close()


def test_lift_episode_with_gripper():
    env = make_sim(IDS[1], steps=5)
    try:
        env.reset(seed=0)
        assert env.action_space.shape == (4,)
        with pytest.raises(ValueError, match="shape"):
            env.step(np.zeros(3, np.float32))
        *_, info = env.step(np.array([0, 0, 0, -1], np.float32))
        open_width = info["gripper_width"]
        for _ in range(4):
            *_, info = env.step(np.array([0, 0, 0, 1], np.float32))
        assert open_width > 0.06 and info["gripper_width"] < open_width - 0.01
        assert info["success"] is False  # the cube stayed on the table
    finally:
        env.close()


def test_check_env_passes():
    env = FrankaRealEnv(robot="sim", camera="sim")
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


# ---------------------------------------------------------------- safety rules through the env
def test_no_motion_before_reset():
    env = FrankaRealEnv(robot="sim", camera="sim")  # unwrapped: gym.make's OrderEnforcing would mask the rule
    try:
        t0 = env.physics.data.time
        with pytest.raises(ResetNeeded):
            env.step(np.zeros(3, np.float32))
        assert env.physics.data.time == t0
    finally:
        env.close()


def test_nan_inf_wrong_shape_rejected_without_motion():
    env = make_sim()
    try:
        env.reset(seed=0)
        t0, ee0 = physics_time(env), env.unwrapped.robot.ee_pos()
        for bad in ([np.nan, 0, 0], [0, np.inf, 0], [0, 0], [0, 0, 0, 0]):
            with pytest.raises(ValueError):
                env.step(np.array(bad, np.float32))
        assert physics_time(env) == t0
        np.testing.assert_array_equal(env.unwrapped.robot.ee_pos(), ee0)
    finally:
        env.close()


def test_actions_clipped_to_2cm_and_workspace():
    box = Workspace((0.40, -0.06, 0.12), (0.50, 0.06, 0.24))
    env = make_sim(workspace=(box.low, box.high))  # plain tuples, as from a config file
    try:
        _, info = env.reset(seed=0)
        prev = info["ee_pos"]
        for _ in range(8):
            *_, info = env.step(np.array([5.0, -5.0, 5.0], np.float32))
            assert np.max(np.abs(info["ee_pos"] - prev)) <= 0.021
            assert np.max(np.abs(info["commanded_delta"])) <= 0.02 + 1e-12
            prev = info["ee_pos"]
        assert box.contains(info["ee_pos"], tol=0.003), info["ee_pos"]
    finally:
        env.close()


def test_controller_error_recovered_once_then_hardware_error():
    deep = Workspace((0.30, -0.30, -0.05), (0.75, 0.30, 0.30))  # lets the peg press into the table
    env = make_sim(workspace=deep)
    try:
        env.reset(seed=0)
        robot = env.unwrapped.robot
        with pytest.raises(HardwareError, match="reflex"):
            for _ in range(40):
                *_, info = env.step(np.array([0.0, 0.0, -1.0], np.float32))
                if info["controller_error"] is not None:
                    assert robot.recover_count == 1 and robot.stop_count >= 1
        assert robot.recover_count == 1  # exactly one recovery attempt before giving up
    finally:
        env.close()


class InterruptingCamera(SimCamera):
    """Sim camera on which the user presses Ctrl-C during the n-th read."""

    def __init__(self, inner: SimCamera, at_read: int):
        super().__init__(inner.physics, inner.size)
        self.started, self.reads, self.at_read = True, 0, at_read

    def read(self) -> np.ndarray:
        self.reads += 1
        if self.reads == self.at_read:
            raise KeyboardInterrupt
        return super().read()


def test_ctrl_c_during_step_stops_arm_and_releases_camera():
    env = make_sim()
    inner = env.unwrapped
    cam = InterruptingCamera(inner.camera, at_read=3)
    inner.camera.stop()
    inner.camera = cam
    robot = inner.robot
    env.reset(seed=0)
    env.step(np.zeros(3, np.float32))
    with pytest.raises(KeyboardInterrupt):
        env.step(np.zeros(3, np.float32))
    assert robot.stop_count >= 1 and robot.closed
    assert not cam.started
    with pytest.raises(HardwareError, match="closed"):
        env.step(np.zeros(3, np.float32))


def test_close_stops_arm_and_releases_camera():
    env = make_sim()
    inner = env.unwrapped
    robot, cam = inner.robot, inner.camera
    env.reset(seed=0)
    env.close()
    env.close()
    assert robot.closed and robot.stop_count >= 1 and not cam.started


# ---------------------------------------------------------------- devices by name or as objects
def test_devices_built_by_the_factories_can_be_passed_as_objects():
    from twist_envs.franka.hardware import make_camera, make_robot
    from twist_envs.franka.scene import FrankaPhysics

    physics = FrankaPhysics("push")
    robot, cam = make_robot("sim", physics=physics), make_camera("sim", physics=physics, size=64)
    env = FrankaRealEnv(robot=robot, camera=cam, episode_steps=2)
    try:
        assert env.robot is robot and env.camera is cam and env.physics is physics
        assert isinstance(env.operator, type(FrankaRealEnv(robot="sim", camera="sim").operator))
        obs, info = env.reset(seed=0)
        *_, truncated, info = env.step(np.zeros(3, np.float32))
        *_, truncated, info = env.step(np.zeros(3, np.float32))
        assert truncated and np.isfinite(info["block_pos"]).all()  # the sim twin's ground truth
    finally:
        env.close()
    assert robot.closed and not cam.started
    assert physics.render(16).shape == (16, 16, 3)  # the scene belongs to whoever built it: not closed


def test_a_replay_camera_object_feeds_the_policy_images():
    from twist_envs.franka.hardware import ReplayCamera

    frames = np.random.default_rng(0).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    env = FrankaRealEnv(robot="sim", camera=ReplayCamera(frames), episode_steps=2)
    try:
        obs, _ = env.reset(seed=0)
        np.testing.assert_array_equal(obs["pixels"], frames[0])
        obs, *_ = env.step(np.zeros(3, np.float32))
        np.testing.assert_array_equal(obs["pixels"], frames[1])
    finally:
        env.close()


def test_device_objects_are_checked():
    from twist_envs.franka.hardware import ReplayCamera, make_camera, make_robot
    from twist_envs.franka.scene import FrankaPhysics

    frames = np.zeros((1, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="robot must be one of"):
        FrankaRealEnv(robot=object(), camera="sim")  # not a GuardedRobot: the safety rules would be bypassed
    with pytest.raises(ValueError, match="camera's size 32 is not image_size 64"):
        FrankaRealEnv(robot="sim", camera=ReplayCamera(frames, size=32))
    with pytest.raises(ValueError, match="robot_kwargs"):
        FrankaRealEnv(robot=make_robot("sim", physics=FrankaPhysics("push")), camera="sim", robot_kwargs={"x": 1})
    a, b = FrankaPhysics("push"), FrankaPhysics("push")
    with pytest.raises(ValueError, match="share one FrankaPhysics"):
        FrankaRealEnv(robot=make_robot("sim", physics=a), camera=make_camera("sim", physics=b))
    with pytest.raises(ValueError, match="robot must be one of"):
        make_robot("ur5")
    with pytest.raises(ValueError, match="pass physics"):
        make_camera("sim")
    a.close(), b.close()
