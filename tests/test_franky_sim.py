"""FrankyRobot (the real franky client code) against franky-sim, a libfranka-protocol simulator, on loopback.

franky-sim lives in its own venv (``.venv-franky-sim``, made by scripts/setup.sh) because it needs a
newer mujoco than the project pins. Each server binds a random 127.x.y.z address so parallel runs do not
collide; nothing is sent to a non-loopback address.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from twist_envs.franka.hardware import FrankyRobot, HardwareError
from twist_envs.franka.hardware.robot import FCI_PORT, probe_tcp
from twist_envs.franka.real import FrankaRealEnv
from twist_envs.franka.scene import HOME_EE, Workspace

pytest.importorskip("franky", reason="franky-control is part of the [real] extra: pip install twist[real]")

FRANKY_SIM = Path(__file__).resolve().parents[1] / ".venv-franky-sim" / "bin" / "franky-sim"
FAST = {"realtime": False, "dynamics_factor": 0.5}  # no RT kernel here; faster homing keeps the suite short


def start_franky_sim() -> tuple[subprocess.Popen, str]:
    """Starts franky-sim on a free loopback address and waits until its FCI port accepts connections."""
    if not FRANKY_SIM.exists():
        pytest.fail(f"franky-sim not found at {FRANKY_SIM}: run scripts/setup.sh (it installs franky-sim==1.0.4)")
    rng = random.Random()
    for _ in range(20):
        addr = f"127.{rng.randint(1, 99)}.{rng.randint(0, 250)}.{rng.randint(1, 250)}"
        if probe_tcp(addr, FCI_PORT, 0.2) is not None:
            break
    proc = subprocess.Popen(
        [str(FRANKY_SIM), "-s", "mujoco", "--hostname", addr],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MUJOCO_GL": "egl", "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    # The port accepts TCP as soon as it is bound, seconds before the server loop runs; connecting then makes
    # libfranka time out. The server prints "Connect to the server using ..." once its loop is about to start.
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, b"")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60.0
    while not any(b"Connect to the server" in ln for ln in lines):
        if proc.poll() is not None:
            reader.join(1.0)
            pytest.fail(f"franky-sim exited with code {proc.returncode} before serving on {addr}: {lines[-5:]}")
        if time.monotonic() > deadline:
            stop_franky_sim(proc)
            pytest.fail(f"franky-sim did not serve on {addr}:{FCI_PORT} within 60 s: {lines[-5:]}")
        time.sleep(0.1)
    time.sleep(0.2)  # from the print to the first loop iteration
    return proc, addr


def stop_franky_sim(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)  # its own session: only the server we started
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="module")
def sim_addr():
    proc, addr = start_franky_sim()
    yield addr
    stop_franky_sim(proc)


@pytest.fixture
def robot(sim_addr):
    r = FrankyRobot(sim_addr, gripper_speed=0.1, **FAST)
    yield r
    r.close()


def test_home_then_base_frame_moves(robot):
    robot.home()
    np.testing.assert_allclose(robot.ee_pos(), HOME_EE, atol=2e-3)
    # The tool points down, so the EE frame's y and z are the base frame's -y and -z: a delta sent in the EE
    # frame without rotating it would move the wrong way along y and z.
    for axis in range(3):
        delta = np.zeros(3)
        delta[axis] = 0.02
        before = robot.ee_pos()
        np.testing.assert_allclose(robot.move_ee(delta), delta)
        np.testing.assert_allclose(robot.ee_pos() - before, delta, atol=2e-3)


def test_gripper_close_and_open(robot):
    robot.home()
    assert robot.gripper_width() > 0.07  # home opens the hand
    robot.move_ee(np.zeros(3), gripper=0.0)
    assert robot.gripper_width() < 0.01
    robot.move_ee(np.zeros(3), gripper=0.08)
    assert robot.gripper_width() > 0.07


def test_workspace_and_step_clipping_before_the_controller(sim_addr):
    # franky-sim has no workspace of its own: only the client-side clip can stop the arm at the wall.
    box = Workspace((0.40, -0.10, 0.15), (HOME_EE[0] + 0.03, 0.10, 0.25))
    r = FrankyRobot(sim_addr, workspace=box, has_gripper=False, **FAST)
    try:
        r.home()
        for _ in range(3):
            before = r.ee_pos()
            commanded = r.move_ee(np.array([0.5, 0.0, 0.0]))
            assert commanded[0] <= 0.02 + 1e-12
            assert r.ee_pos()[0] - before[0] <= 0.022
        assert r.ee_pos()[0] <= box.high[0] + 2e-3
        with pytest.raises(ValueError):
            r.move_ee(np.array([np.nan, 0.0, 0.0]))
    finally:
        r.close()


def induce_controller_error(robot: FrankyRobot) -> None:
    """Starts a joint motion behind the guard's back: the next Cartesian move is refused by franky
    (InvalidMotionTypeException), a real controller-side error the guard has to handle."""
    import franky

    q = np.array([0.3, -0.3, 0.0, -2.4, 0.0, 2.1, 0.785])
    robot._robot.move(franky.JointMotion(franky.JointState(q)), asynchronous=True)
    time.sleep(0.2)


def test_recovery_after_an_induced_controller_error(robot):
    robot.home()
    induce_controller_error(robot)
    commanded = robot.move_ee(np.array([0.0, 0.0, 0.02]))
    # Stopped, recovered once, the failed command dropped (not retried), the cause kept.
    np.testing.assert_array_equal(commanded, np.zeros(3))
    assert "InvalidMotionType" in robot.last_error
    still = robot.ee_pos()
    time.sleep(0.3)
    np.testing.assert_allclose(robot.ee_pos(), still, atol=5e-4)  # the joint motion was stopped
    before = robot.ee_pos()
    robot.move_ee(np.array([0.0, 0.0, 0.02]))  # the recovered connection works again
    assert robot.last_error is None
    np.testing.assert_allclose(robot.ee_pos() - before, [0.0, 0.0, 0.02], atol=2e-3)
    # The same error right after a recovery: no second recovery, HardwareError naming the cause.
    induce_controller_error(robot)
    robot.move_ee(np.array([0.0, 0.0, -0.02]))
    induce_controller_error(robot)
    with pytest.raises(HardwareError, match="failed again right after an error recovery.*InvalidMotionType"):
        robot.move_ee(np.array([0.0, 0.0, -0.02]))


def test_lost_connection_raises_hardware_error():
    proc, addr = start_franky_sim()
    try:
        r = FrankyRobot(addr, has_gripper=False, **FAST)
        stop_franky_sim(proc)
        t = time.monotonic()
        with pytest.raises(HardwareError, match=f"robot at {addr}.*recovery failed"):
            r.home()
        assert time.monotonic() - t < 5.0
        r.close()  # must not raise with the server gone
    finally:
        stop_franky_sim(proc)


def test_real_env_end_to_end_with_franky(sim_addr):
    env = FrankaRealEnv(
        task="push",
        robot="franky",
        robot_ip=sim_addr,
        camera="sim",
        robot_kwargs=FAST,
        interactive=False,
        success_from="detector",
        episode_steps=3,
    )
    try:
        _, info = env.reset(seed=0)
        np.testing.assert_allclose(info["ee_pos"], HOME_EE, atol=2e-3)
        with pytest.raises(ValueError):
            env.step(np.array([np.inf, 0.0, 0.0], np.float32))
        np.testing.assert_allclose(env.unwrapped.robot.ee_pos(), info["ee_pos"], atol=1e-4)  # no motion
        xs = [info["ee_pos"][0]]
        for _ in range(3):
            obs, _, _, trunc, info = env.step(np.array([1.0, 0.0, 0.0], np.float32))
            xs.append(info["ee_pos"][0])
        np.testing.assert_allclose(np.diff(xs), 0.02, atol=2e-3)
        assert trunc and isinstance(info["success"], bool) and obs["pixels"].shape == (64, 64, 3)
    finally:
        env.close()
