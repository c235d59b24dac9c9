"""BlockPush / BlockLift on a real Franka Panda with a RealSense camera (ids ``TWIST/Block*-Real-v0``).

Same task as the sim env: the task objects of ``tasks.py`` give the action semantics (end-effector delta,
<= 2 cm per axis per step, gripper opening for lift), the reward and the success criterion; the policy
image has the sim env's size and, after the view calibration of docs/hardware.md, the sim camera's view.

Timing of one episode (150 steps, as in the paper)::

    reset():  home arm -> open gripper -> operator places cube + goal -> obs_0
    step(a):  check a (ValueError, nothing moves) -> clip -> move arm (blocking) -> obs_t+1
    step 150: ... -> success judged (operator by default, or the colour detector) -> truncated

Safety is built into the layers below (``hardware/robot/base.py``): workspace box and 2 cm clip before the
controller, NaN/inf refused, one error recovery then ``HardwareError``, ``close()`` and Ctrl-C stop the arm
and release the camera, and no motion before ``reset()``.

``robot="sim"`` / ``camera="sim"`` swap in the sim twins (the MuJoCo scene of the sim env), so the whole
loop, including the operator protocol and the detector, runs without hardware. The sim camera then applies
the paper's camera pose and brightness randomisation of the real runs (:data:`VIEW_TERMS`, drawn once per
episode; ``view_randomization=False`` shows the canonical scene). ``log_dir`` keeps an episode log
(``episode_log.py``): one JSON line per episode and the policy's frames and actions. Devices are built by name
through ``hardware/factory.py`` (``make_robot``, ``make_camera``); an already built robot (a
``GuardedRobot``) or camera (any ``Camera``, e.g. a ``ReplayCamera``) can be passed instead of a name.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from gymnasium import spaces
from gymnasium.error import DependencyNotInstalled, ResetNeeded

from twist_envs.base import TwistEnv, observation_space_for
from twist_envs.franka.episode_log import EpisodeLog
from twist_envs.franka.hardware.camera import REAL_EXTRA, Camera, SimCamera
from twist_envs.franka.hardware.detector import ColorDetector, DetectorCalibration
from twist_envs.franka.hardware.errors import HardwareError
from twist_envs.franka.hardware.factory import CAMERAS, ROBOTS, SIM, make_camera, make_robot, missing_packages
from twist_envs.franka.hardware.robot import GuardedRobot, SimRobot, validate_max_step
from twist_envs.franka.scene import DEFAULT_WORKSPACE, FrankaPhysics, Workspace
from twist_envs.franka.sim import franka_terms
from twist_envs.franka.tasks import EPISODE_STEPS, Task, TaskReadout, make_task, scale_action
from wrappers.randomization import Randomizer, Term
from wrappers.scene import MujocoScene

logger = logging.getLogger(__name__)

SUCCESS_SOURCES = ("operator", "detector")
VIEW_TERMS: tuple[str, ...] = ("camera_pose", "light_brightness")
"""The terms of :func:`~twist_envs.franka.sim.franka_terms` that the sim camera applies for the real runs: the
camera pose jitter (2 cm, 2 deg) and the light brightness (x 0.5-1.4), with the training parameters."""


def view_terms() -> tuple[Term, ...]:
    """The paper's real-run view randomisation: :data:`VIEW_TERMS` taken from the sim env's own term list.

    Example:
        >>> [t.name for t in view_terms()]
        ['light_brightness', 'camera_pose']
    """
    return tuple(t for t in franka_terms() if t.name in VIEW_TERMS)


@runtime_checkable
class Operator(Protocol):
    """The person (or automation) who resets the scene and, by default, judges success."""

    def place(self, task: str, block_xy: np.ndarray, goal_xy: np.ndarray) -> None:
        """Puts the cube at ``block_xy`` and the goal marker at ``goal_xy`` (base frame, m), then returns."""
        ...

    def judge_success(self, task: str) -> bool:
        """Says whether the episode that just ended succeeded."""
        ...


class TerminalOperator:
    """Asks the person at the robot through the terminal (the default on real hardware).

    Args:
        input_fn: reads one line (``input`` by default).
        print_fn: shows a message (``print`` by default).
    """

    def __init__(self, input_fn: Callable[[str], str] = input, print_fn: Callable[[str], Any] = print):
        self.input_fn = input_fn
        self.print_fn = print_fn

    def place(self, task: str, block_xy: np.ndarray, goal_xy: np.ndarray) -> None:
        """Prints where to put cube and marker and waits for Enter."""
        self.print_fn(
            f"[{task}] Arm is home. Place the yellow cube at x={block_xy[0]:.3f} m, y={block_xy[1]:.3f} m"
            + ("" if task == "lift" else f" and the red goal at x={goal_xy[0]:.3f} m, y={goal_xy[1]:.3f} m")
            + " (robot base frame; see the printed grid on the table)."
        )
        self.input_fn("Step back from the robot, keep the user stop in hand, then press Enter to start... ")

    def judge_success(self, task: str) -> bool:
        """Asks y/n until it gets an answer."""
        criterion = "cube centre within 5 cm of the goal" if task == "push" else "cube lifted >= 10 cm above the table"
        while True:
            ans = self.input_fn(f"Episode over. Success ({criterion})? [y/n] ").strip().lower()
            if ans in ("y", "yes", "n", "no"):
                return ans.startswith("y")


class SimOperator:
    """Operator of the sim twin: places the objects in the MuJoCo scene and judges from its state."""

    def __init__(self, physics: FrankaPhysics, task: Task):
        self.physics = physics
        self.task = task

    def place(self, task: str, block_xy: np.ndarray, goal_xy: np.ndarray) -> None:
        """Teleports cube and goal marker to their positions."""
        self.physics.place(block_xy, goal_xy)

    def judge_success(self, task: str) -> bool:
        """The task's success criterion on the simulator's ground truth."""
        p = self.physics
        return self.task.success(TaskReadout(p.ee_pos(), p.block_pos(), p.goal_pos(), p.gripper_width()))


class FrankaRealEnv(TwistEnv):
    """BlockPush / BlockLift on a real Franka with a RealSense camera; observations ``{"pixels"}`` only.

    Without hardware the constructor fails within seconds naming what is missing: a package
    (``DependencyNotInstalled``: ``pip install twist[real]``), the camera (``HardwareError``: no RealSense
    device) or the robot (``HardwareError``: robot at <ip> unreachable). The camera is checked before the
    robot, so nothing is sent over the network when the camera is missing.

    Info keys: ``success`` (final step: the operator's or detector's judgement; before: the detector's or
    sim twin's current criterion where known, else False), ``ee_pos`` (the arm's measured tool tip),
    ``block_pos`` / ``goal_pos`` (detector or sim twin; NaN when unknown, e.g. operator mode on hardware),
    ``gripper_width``, ``commanded_delta`` (after clipping), ``controller_error`` (an error the last step
    recovered from, else None). The reward is the task's dense reward where the cube is known, else 0.

    Args:
        task: ``"push"`` or ``"lift"``.
        robot: ``"franky"`` (franky-control), ``"frankx"`` (no wheel for Python >= 3.10), ``"sim"``, or a
            robot already built (a :class:`GuardedRobot`, e.g. from ``make_robot``); the env closes it.
        robot_ip: FCI address of the robot's control box.
        camera: ``"realsense"``, ``"sim"`` (renders the sim twin's scene), or a :class:`Camera` already
            built (e.g. a ``ReplayCamera``) whose ``size`` is ``image_size``; the env starts and stops it.
        camera_serial: serial number of the RealSense to open (``None``: the only one connected).
        workspace: box the tool tip stays in: a ``Workspace`` or ``(low_xyz, high_xyz)``; default = sim's.
        max_step_m: largest tool move per axis per step, at most 0.02 (the paper's 2 cm).
        image_size: side of the square ``"pixels"`` observation (the sim env's default 64).
        success_from: ``"operator"`` (asked at the episode's end) or ``"detector"`` (colour detector).
        operator: who places the objects and judges success; default: terminal prompts on hardware, the sim
            twin's own operator with ``robot="sim"``.
        interactive: ``False`` = nobody is asked on hardware (an automated reset places the objects;
            requires ``success_from="detector"``). Ignored with ``robot="sim"``.
        calibration: detector calibration (``DetectorCalibration`` or a JSON path written by ``save``);
            required for the detector on hardware, computed from the MuJoCo camera for the sim twin.
        robot_kwargs: extra arguments of the robot class (e.g. ``dynamics_factor``, ``realtime``); only with
            a robot name.
        camera_kwargs: extra ``RealSenseConfig`` fields (e.g. ``crop``, ``exposure_us``); only with a camera
            name (ignored by the sim camera).
        episode_steps: steps after which the env judges success and truncates (the paper's 150). The env
            cannot see ``gym.make``'s ``TimeLimit``: when shortening episodes with ``max_episode_steps=N``,
            pass ``episode_steps=N`` too.
        render_mode: ``None`` or ``"rgb_array"`` (returns the last policy image).
        view_randomization: with the sim camera, draw the paper's real-run camera pose and brightness
            randomisation (:func:`view_terms`) once per episode from the reset seed, as the real camera mount
            and room light differ from the sim camera's; ``False`` renders the canonical view (a calibration
            run). A real camera ignores it: its view varies by itself.
        log_dir: folder of the episode log (:mod:`~twist_envs.franka.episode_log`): ``episodes.jsonl``
            (one record per episode, also for aborted ones) and ``episode_NNN.npz`` (policy frames and
            actions); ``None`` keeps no log.

    Example:
        >>> import numpy as np
        >>> env = FrankaRealEnv("push", robot="sim", camera="sim", episode_steps=2)  # sim twins
        >>> obs, info = env.reset(seed=0)
        >>> obs["pixels"].shape, obs["pixels"].dtype
        ((64, 64, 3), dtype('uint8'))
        >>> _ = env.step(np.array([0.0, 0.0, 1.0], np.float32))  # tool up by 2 cm
        >>> *_, truncated, info = env.step(np.zeros(3, np.float32))
        >>> truncated, sorted(info)[:3]
        (True, ['block_pos', 'commanded_delta', 'controller_error'])
        >>> env.close()
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}
    env_name = "FrankaRealEnv"
    observation_keys: tuple[str, ...] = ("pixels",)
    """What every observation holds, known before any device is opened: a real robot has no simulator state."""

    def __init__(
        self,
        task: str = "push",
        robot: str | GuardedRobot = "franky",
        robot_ip: str = "172.16.0.2",
        camera: str | Camera = "realsense",
        camera_serial: str | None = None,
        workspace: Workspace | tuple[Any, Any] | None = None,
        max_step_m: float = 0.02,
        image_size: int = 64,
        success_from: str = "operator",
        operator: Operator | None = None,
        interactive: bool = True,
        calibration: DetectorCalibration | str | Path | None = None,
        robot_kwargs: dict[str, Any] | None = None,
        camera_kwargs: dict[str, Any] | None = None,
        episode_steps: int = EPISODE_STEPS,
        render_mode: str | None = None,
        view_randomization: bool = True,
        log_dir: str | Path | None = None,
    ):
        # A name, or a device already built. A built robot must be a GuardedRobot, not just any Robot: the safety
        # rules live in that class.
        for name, value, allowed, built in (
            ("robot", robot, ROBOTS, GuardedRobot),
            ("camera", camera, CAMERAS, Camera),
            ("success_from", success_from, SUCCESS_SOURCES, ()),
        ):
            if value not in allowed and not isinstance(value, built):
                raise ValueError(f"FrankaRealEnv: {name} must be one of {allowed}, got {value!r}")
        robot_is_sim = robot == SIM or isinstance(robot, SimRobot)
        camera_is_sim = camera == SIM or isinstance(camera, SimCamera)
        if not (isinstance(image_size, int) and image_size > 0):
            raise ValueError(f"FrankaRealEnv: image_size must be a positive int, got {image_size!r}")
        if not isinstance(robot, str) and robot_kwargs:
            raise ValueError("FrankaRealEnv: robot_kwargs configure a robot built by name, not a robot object")
        if not isinstance(camera, str):
            if camera_kwargs or camera_serial is not None:
                raise ValueError(
                    "FrankaRealEnv: camera_kwargs and camera_serial configure a camera built by name, not a camera "
                    "object"
                )
            if camera.size != image_size:
                raise ValueError(f"FrankaRealEnv: the camera's size {camera.size} is not image_size {image_size}")
        sim_scenes = {id(d.physics): d.physics for d in (robot, camera) if isinstance(d, (SimRobot, SimCamera))}
        if len(sim_scenes) > 1:
            raise ValueError("FrankaRealEnv: the sim robot and the sim camera must share one FrankaPhysics")
        if not (isinstance(episode_steps, int) and episode_steps > 0):
            raise ValueError(f"FrankaRealEnv: episode_steps must be a positive int, got {episode_steps!r}")
        self._check_render_mode(render_mode)
        if not isinstance(view_randomization, bool):
            raise ValueError(f"FrankaRealEnv: view_randomization must be True or False, got {view_randomization!r}")
        if not robot_is_sim and not interactive and operator is None and success_from == "operator":
            raise ValueError(
                "FrankaRealEnv: interactive=False leaves nobody to judge success: pass "
                "success_from='detector' (with a calibration) or an operator"
            )
        if not camera_is_sim and success_from == "detector" and calibration is None:
            raise ValueError(
                "FrankaRealEnv: success_from='detector' on hardware needs calibration= "
                "(see docs/hardware.md, 'Detector calibration')"
            )
        self.task: Task = dataclasses.replace(make_task(task), max_step_m=validate_max_step(max_step_m))
        if workspace is None:
            workspace = DEFAULT_WORKSPACE
        elif not isinstance(workspace, Workspace):
            workspace = Workspace(tuple(map(float, workspace[0])), tuple(map(float, workspace[1])))
        self.workspace: Workspace = workspace
        self.image_size = image_size
        self.episode_steps = episode_steps
        self.success_from = success_from
        self.render_mode = render_mode
        self.robot_name = robot if isinstance(robot, str) else type(robot).__name__
        self.observation_space = observation_space_for("pixels", 0, image_size)
        self.action_space = spaces.Box(-1.0, 1.0, (self.task.action_dim,), np.float32)

        # Every missing package is reported at once, before any device is touched.
        needs = [d for d in (camera, robot) if isinstance(d, str)] + ["detector"] * (success_from == "detector")
        missing = missing_packages(*needs)
        if missing:
            raise DependencyNotInstalled(
                f"FrankaRealEnv: missing package(s) {', '.join(sorted(set(missing)))}: {REAL_EXTRA}"
            )

        self._closed = False
        self._ready = False  # set by reset(): no motion before it
        self.physics: FrankaPhysics | None = next(iter(sim_scenes.values()), None)  # a built twin's scene
        self._owns_physics = False  # a scene that came with a built device stays its owner's to close
        self.camera: Camera | None = None
        self.robot: GuardedRobot | None = None
        try:
            if self.physics is None and SIM in (robot, camera):
                self.physics, self._owns_physics = FrankaPhysics(task, workspace=workspace), True
            if camera_is_sim and not robot_is_sim:
                logger.warning("camera='sim' with a real robot: the images show the static sim scene")
            if isinstance(camera, str):
                extra = (camera_kwargs or {}) if camera != SIM else {}  # the sim camera has no RealSense settings
                self.camera = make_camera(camera, physics=self.physics, size=image_size, serial=camera_serial, **extra)
            else:
                self.camera = camera
            self.camera.start()  # before the robot: a missing camera fails without any network traffic
            if isinstance(robot, str):
                self.robot = make_robot(
                    robot,
                    physics=self.physics,
                    ip=robot_ip,
                    workspace=workspace,
                    max_step_m=max_step_m,
                    has_gripper=self.task.action_dim == 4,
                    **dict(robot_kwargs or {}),
                )
            else:
                self.robot = robot
        except BaseException:
            self.close()
            raise

        if operator is not None:
            self.operator: Operator = operator
        elif robot_is_sim:
            self.operator = SimOperator(self.physics, self.task)
        elif interactive:
            self.operator = TerminalOperator()
        else:
            self.operator = _AutomatedReset()

        self.detector: ColorDetector | None = None
        self._twin_calibration = False  # computed from the sim camera: recomputed after each view jitter
        if success_from == "detector" or calibration is not None:
            if isinstance(calibration, (str, Path)):
                calibration = DetectorCalibration.load(calibration)
            if calibration is None:  # sim twin: exact calibration from the MuJoCo camera
                calibration = DetectorCalibration.from_mujoco_camera(self.physics.model)
                self._twin_calibration = True
            self.detector = ColorDetector(calibration)

        # The real-run view randomisation acts on the scene the sim camera renders; a real camera has none.
        self._view: Randomizer | None = None
        self._view_scene: MujocoScene | None = None
        if view_randomization and camera_is_sim:
            self._view = Randomizer(view_terms(), "test")  # "test": every term once per episode, at reset
            self._view_scene = MujocoScene(self.physics.model, self.physics.data)
        self.view_randomization = self._view is not None

        self.log: EpisodeLog | None = None
        if log_dir is not None:
            camera_name = camera if isinstance(camera, str) else type(camera).__name__
            self.log = EpisodeLog(
                log_dir,
                context={
                    "task": self.task.name,
                    "robot": self.robot_name,
                    "camera": camera_name,
                    "success_from": success_from,
                    "episode_steps": episode_steps,
                    "view_randomization": self.view_randomization,
                },
            )

        self._steps = 0
        self._goal_xy = np.full(2, np.nan)
        self._last_pixels = None

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Homes the arm, opens the gripper, has the operator place cube and goal; returns the first image.

        Args:
            seed: seeds ``np_random``, which draws the cube/goal positions the operator is asked for.
            options: ``{"block_xy": ..., "goal_xy": ...}`` to choose the positions.
        """
        super().reset(seed=seed)
        self._check_open()
        self._ready = False
        if self.log is not None:
            self.log.abort("reset() before the episode's last step")
        block_xy, goal_xy = self.task.sample_initial(self.np_random)
        view_seed = int(self.np_random.integers(2**63))  # drawn either way: positions do not depend on the switch
        if options:
            block_xy = np.asarray(options.get("block_xy", block_xy), np.float64)
            goal_xy = np.asarray(options.get("goal_xy", goal_xy), np.float64)
        try:
            self.robot.home()
            view = self._randomize_view(np.random.default_rng(view_seed))
            self.operator.place(self.task.name, block_xy, goal_xy)
            obs = self._observation()
        except KeyboardInterrupt:
            self.close()
            raise
        self._goal_xy = np.asarray(goal_xy, np.float64)
        self._steps = 0
        self._ready = True
        info = self._info(self._readout(obs), final=False, commanded=np.zeros(3))
        if self.log is not None:
            self.log.start(seed, block_xy, goal_xy, obs["pixels"], view)
        return obs, info

    def step(self, action: np.ndarray):
        """Applies one action: <= 2 cm tool move inside the workspace (and the gripper for lift).

        Raises:
            ValueError: NaN/inf or wrong shape (nothing moves).
            gymnasium.error.ResetNeeded: before ``reset()`` (nothing moves).
            HardwareError: a controller error that one recovery could not fix.
        """
        self._check_open()
        if not self._ready:
            raise ResetNeeded("FrankaRealEnv: call reset() before step(); reset homes the arm (no motion before)")
        delta, gripper = scale_action(action, self.task)  # ValueError here: nothing has moved
        try:
            commanded = self.robot.move_ee(delta, gripper)
            obs = self._observation()
        except KeyboardInterrupt:
            if self.log is not None:
                self.log.abort("Ctrl-C during a step")
            self.close()  # Ctrl-C: stop the arm and release the camera before anything else
            raise
        except HardwareError as e:
            if self.log is not None:
                self.log.abort(f"HardwareError: {e}")
            raise
        self._steps += 1
        final = self._steps >= self.episode_steps
        readout = self._readout(obs)
        reward = self.task.reward(readout) if readout is not None else 0.0
        if final:
            self.robot.stop()
            self._ready = False  # the next episode starts with reset(), which homes again
        info = self._info(readout, final, commanded)
        if self.log is not None:
            self.log.step(action, reward, obs["pixels"], info["controller_error"])
            if final:
                judged_by = "detector" if self.success_from == "detector" else type(self.operator).__name__
                final_pos = {k: info[k] for k in ("ee_pos", "block_pos", "goal_pos")}
                self.log.finish(info["success"], judged_by, final_pos)
        return obs, float(reward), False, final, info

    def render(self) -> np.ndarray | None:
        """A copy of the last policy image (``render_mode="rgb_array"``); ``None`` before the first one."""
        frame = super().render()
        return None if frame is None else frame.copy()

    def close(self) -> None:
        """Stops the arm, disconnects it and releases the camera; safe to call more than once."""
        self._ready = False
        self._closed = True
        log, self.log = getattr(self, "log", None), None
        if log is not None:
            log.abort("env closed before the episode's last step")
        robot, camera = self.robot, self.camera
        physics = self.physics if self._owns_physics else None
        self.robot = self.camera = self.physics = None
        try:
            if robot is not None:
                robot.close()  # stops the arm first
        finally:
            if camera is not None:
                camera.stop()
            if physics is not None:
                physics.close()

    # ------------------------------------------------------------------ helpers
    def _check_open(self) -> None:
        if self._closed:
            raise HardwareError("FrankaRealEnv: the env is closed (arm stopped, camera released)")

    def _render(self) -> np.ndarray:
        """The camera's newest frame, checked to be the policy image's shape and dtype."""
        pixels = self.camera.read()
        if pixels.shape != (self.image_size, self.image_size, 3) or pixels.dtype != np.uint8:
            raise HardwareError(
                f"camera returned {pixels.shape} {pixels.dtype}, expected "
                f"({self.image_size}, {self.image_size}, 3) uint8"
            )
        return pixels

    def _randomize_view(self, rng: np.random.Generator) -> dict[str, Any] | None:
        """Draws this episode's camera pose and brightness on the sim twin; returns what was drawn."""
        if self._view is None:
            return None
        scene = self._view_scene
        self._view.on_reset(scene, rng)
        if self._twin_calibration:  # the sim detector is calibrated on the camera as it now stands
            self.detector.calibration = DetectorCalibration.from_mujoco_camera(self.physics.model)
        m = scene.model
        cam = m.camera("policy").id
        dot = abs(float(np.dot(m.cam_quat[cam], scene.default("cam_quat")[cam])))
        lights = {
            m.light(i).name: float(m.light_diffuse[i].mean() / scene.default("light_diffuse")[i].mean())
            for i in range(m.nlight)
        }
        return {
            "camera_offset_m": (m.cam_pos[cam] - scene.default("cam_pos")[cam]).round(4),
            "camera_angle_deg": round(math.degrees(2.0 * math.acos(min(1.0, dot))), 3),
            "brightness": {k: round(v, 3) for k, v in lights.items()},
        }

    def _render_before_first_observation(self) -> np.ndarray | None:
        # Reading the camera here would show a scene nobody has reset yet.
        return None

    def _readout(self, obs: dict[str, np.ndarray]) -> TaskReadout | None:
        """Cube/goal/tool state: sim twin ground truth, else the detector, else unknown (None)."""
        ee, width = self.robot.ee_pos(), self.robot.gripper_width()
        if isinstance(self.robot, SimRobot):
            p = self.robot.physics
            return TaskReadout(ee, p.block_pos(), p.goal_pos(), width)
        if self.detector is not None:
            return self.detector.readout(self.detector.detect(self.camera.read_full()), ee, width, self._goal_xy)
        return None

    def _judge_success(self, readout: TaskReadout | None) -> bool:
        if self.success_from == "detector":
            if readout is None:
                logger.warning("detector: cube not found at the episode's end; counted as failure")
                return False
            return self.task.success(readout)
        return bool(self.operator.judge_success(self.task.name))

    def _info(self, readout: TaskReadout | None, final: bool, commanded: np.ndarray) -> dict[str, Any]:
        if final:
            success = self._judge_success(readout)
        else:
            success = bool(readout is not None and self.task.success(readout))
        nan3 = np.full(3, np.nan)
        return {
            "success": success,
            "ee_pos": self.robot.ee_pos(),
            "block_pos": nan3 if readout is None else np.asarray(readout.block_pos, np.float64),
            "goal_pos": nan3 if readout is None else np.asarray(readout.goal_pos, np.float64),
            "gripper_width": self.robot.gripper_width(),
            "commanded_delta": np.asarray(commanded, np.float64),
            "controller_error": self.robot.last_error,
        }


class _AutomatedReset:
    """``interactive=False`` on hardware: nobody is asked; objects are assumed placed by automation."""

    def place(self, task: str, block_xy: np.ndarray, goal_xy: np.ndarray) -> None:
        logger.info("non-interactive reset: assuming cube at %s and goal at %s", block_xy, goal_xy)

    def judge_success(self, task: str) -> bool:
        raise HardwareError("non-interactive mode has no operator to judge success; use success_from='detector'")
