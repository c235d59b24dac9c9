"""``TWIST/BlockPush-Sim-v0`` and ``TWIST/BlockLift-Sim-v0``: the Franka block tasks in MuJoCo.

The sim counterpart of the paper's Isaac Orbit set-up (Sec. VI-C): a Franka Panda moves its tool tip by at
most 2 cm per axis per step (differential IK to joint servos), a third-person camera sees block, goal and
tool, episodes last 150 steps, and success is judged at the end of the episode (``info["success"]`` is
reported every step; the last step's value is the episode's outcome).

Domain randomisation follows the paper: every step the light brightness and the textures/colours of robot,
background, table and block; every episode the block's friction and mass and a small camera jitter. The
``"test"`` split draws table/floor/background textures from held-out procedural families, once per episode.

Rendering defaults (64 px on a CPU rasteriser): shadows, reflections and multisampling off, skybox on, and
the robot drawn with its low-polygon collision meshes (the detailed STLs cost ~5x the frame time).

Timing of one step (what the observation of step t shows)::

    action a_t -> move_ee (25 physics steps) -> per-step randomisation -> render o_{t+1}, state s_{t+1}

Example:
    >>> import gymnasium as gym
    >>> import twist_envs
    >>> env = gym.make("TWIST/BlockPush-Sim-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs["state"].shape, obs["pixels"].shape, env.action_space.shape
    ((34,), (64, 64, 3), (3,))
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> sorted(info)
    ['block_pos', 'contact_force', 'ee_pos', 'goal_pos', 'gripper_width', 'reflex', 'success']
    >>> env.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from twist_envs.base import RandomizedMujocoEnv
from twist_envs.franka.scene import DEFAULT_CAMERA, DEFAULT_WORKSPACE, CameraPose, FrankaPhysics, Workspace
from twist_envs.franka.scripted import ScriptedPolicy
from twist_envs.franka.tasks import TaskReadout, make_task, scale_action
from wrappers.randomization import (
    Term,
    background,
    body_mass,
    camera_pose,
    floor_texture,
    friction,
    light_brightness,
    material_colors,
)
from wrappers.textures import TextureSource, as_texture_source, bank_assets_xml, fill_texture_banks

STATE_LAYOUT: tuple[tuple[str, int], ...] = (
    ("joint_pos", 7),
    ("joint_vel", 7),
    ("ee_pos", 3),
    ("gripper_width", 1),
    ("block_pos", 3),
    ("block_quat", 4),
    ("block_vel", 6),
    ("goal_pos", 3),
)
"""Order and size of the fields of ``obs["state"]`` (34 floats for both tasks)."""
STATE_DIM = sum(n for _, n in STATE_LAYOUT)


def _state_slices() -> dict[str, slice]:
    at, out = 0, {}
    for name, n in STATE_LAYOUT:
        out[name] = slice(at, at + n)
        at += n
    return out


STATE_SLICES: dict[str, slice] = _state_slices()
"""Where each field of :data:`STATE_LAYOUT` lies in the flat state, e.g. ``state[STATE_SLICES["block_pos"]]``."""

BANK_TRAIN, BANK_TEST, BANK_PIXELS = 32, 12, 128
"""Textures compiled into the model per split (background and table/floor banks) and their side in pixels."""


def franka_terms(source: TextureSource | None = None, camera_jitter: bool = True) -> tuple[Term, ...]:
    """The paper's Franka randomisation (Sec. VI-C) as terms.

    Every step: light brightness, background and table/floor textures, robot and block colours. Every
    episode: block friction and mass, camera pose jitter (the real experiments moved the camera). The goal
    marker stays red: it is the task's cue, not a distractor.

    ``camera_jitter=False`` leaves the camera pose out: the paper's simulated DR (Sec. VI-C names light, textures
    and friction; it moves the camera only in the real runs). The jitter (2 cm, 2 deg) shifts where a fixed image
    position lies on the table by ~5 cm (root mean square, from the pinhole geometry of the default camera ~1.2 m
    away), a misreading held for the whole episode unless the image's landmarks undo it. BlockPush's supervised
    read-out of the cube from single frames without it is measured by ``benchmarks/franka_perception.py
    --no-camera-jitter``. TWIST students distilled on BlockPush data drawn without it (read-out pretraining, seeds
    2 / 3) succeeded in 10/20, 8/20 trials on the training appearances (5/20, 5/20 with it) and, on held-out
    appearances *with* the jitter they never saw, in 2/20, 5/20 (0/20, 1/20).

    Example:
        >>> [t.name for t in franka_terms(camera_jitter=False)][-1]
        'body_mass'
    """
    terms = (
        light_brightness(("key_light", "fill_light"), scale=(0.5, 1.4)),
        background(source),
        floor_texture(("table", "floor"), source),
        material_colors(("robot", "robot_dark", "block")),
        friction(("block",), scale=(0.5, 1.5)),
        body_mass(("block",), scale=(0.5, 2.0)),
        camera_pose(("policy",), pos_std=0.02, angle_std_deg=2.0, when="reset"),
    )
    return terms if camera_jitter else tuple(t for t in terms if t.name != "camera_pose")


class FrankaSimEnv(RandomizedMujocoEnv):
    """Franka Panda BlockPush / BlockLift in MuJoCo with paired observations and domain randomisation.

    Args:
        task: ``"push"`` (peg, 3-D action) or ``"lift"`` (two-finger hand, 4-D action: + gripper).
        obs_mode: ``"paired"`` (``{"state", "pixels"}``), ``"state"`` or ``"pixels"``.
        randomization: ``"train"`` (appearance every step, physics every episode), ``"test"`` (once per
            episode, held-out textures) or ``"none"``.
        image_size: side of the square image in pixels.
        camera: pose of the policy camera (default :data:`~twist_envs.franka.scene.DEFAULT_CAMERA`).
        render_mode: ``None`` or ``"rgb_array"`` (returns the last observation image).
        workspace: box the tool tip is kept in.
        texture_source: ``None`` (procedural families), a folder of images/videos, or a ``TextureSource``.
        terms: randomisation terms (default :func:`franka_terms`).
        train_textures: how many training textures each bank (background; table and floor) holds, drawn from
            ``texture_source``'s train split (default 32, :data:`BANK_TRAIN`). Each step's appearance picks one of
            them; more make memorising the backgrounds harder (``benchmarks/franka_perception.py --bank``). 256
            instead of 32 took the env's build from 0.9 to 2.8 s and a step from ~6 to ~8 ms (one timing, 100
            steps, nine families).
        contact_force_limit: ``None`` (default) or a force in N: a step that leaves more contact force than this on
            the robot ends the episode (``terminated``, ``info["reflex"]``), as a real Franka's collision reflex
            stops the arm (the real env's sim twin: 30 N). The sim otherwise lets a policy press the block into
            the table, which no real arm tolerates. Off by default, so the paper's task is unchanged.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    env_name = "FrankaSimEnv"

    def __init__(
        self,
        task: str = "push",
        obs_mode: str = "paired",
        randomization: str = "train",
        image_size: int = 64,
        camera: CameraPose | None = None,
        render_mode: str | None = None,
        workspace: Workspace = DEFAULT_WORKSPACE,
        texture_source: TextureSource | str | None = None,
        terms: Sequence[Term] | None = None,
        contact_force_limit: float | None = None,
        train_textures: int = BANK_TRAIN,
    ) -> None:
        if task not in ("push", "lift"):
            raise ValueError(f"FrankaSimEnv: task must be 'push' or 'lift', got {task!r}")
        if contact_force_limit is not None and (
            isinstance(contact_force_limit, bool)
            or not isinstance(contact_force_limit, int | float)
            or not 0 < contact_force_limit < float("inf")
        ):
            raise ValueError(
                f"FrankaSimEnv: contact_force_limit must be None or a force > 0 in N (the real arm: 30), "
                f"got {contact_force_limit!r}"
            )
        self.contact_force_limit = None if contact_force_limit is None else float(contact_force_limit)
        if isinstance(train_textures, bool) or not isinstance(train_textures, int) or train_textures < 1:
            raise ValueError(f"FrankaSimEnv: train_textures must be an int >= 1 (default 32), got {train_textures!r}")
        self._check_observation_args(obs_mode, randomization, image_size)
        if camera is not None and not isinstance(camera, CameraPose):
            raise ValueError(f"FrankaSimEnv: camera must be a CameraPose or None, got {type(camera).__name__}")
        self._check_render_mode(render_mode)
        self.task = make_task(task)
        self._init_observations(obs_mode, randomization, image_size, render_mode, STATE_DIM)
        self.camera = camera or DEFAULT_CAMERA

        banks_xml = (
            bank_assets_xml(train_textures, BANK_TEST, BANK_PIXELS, BANK_PIXELS) if randomization != "none" else ""
        )
        self.physics = FrankaPhysics(task, self.camera, workspace, extra_assets=banks_xml)
        model, data = self.physics.model, self.physics.data
        source = as_texture_source(texture_source)
        banks = fill_texture_banks(model, source, train_textures, BANK_TEST) if banks_xml else {}
        self._wire_scene(
            model, data, self.physics.renderers, banks, terms, default_terms=lambda: franka_terms(texture_source)
        )
        self.action_space = spaces.Box(-1.0, 1.0, (self.task.action_dim,), np.float32)
        self._expert = ScriptedPolicy(task)

    # -- observations -------------------------------------------------------------------------------------
    def readout(self) -> TaskReadout:
        """What the task's reward and success read from the simulator."""
        p = self.physics
        return TaskReadout(p.ee_pos(), p.block_pos(), p.goal_pos(), p.gripper_width())

    def state(self) -> np.ndarray:
        """The privileged state vector (34,), float32, laid out as :data:`STATE_LAYOUT`."""
        p = self.physics
        return np.concatenate(
            [
                p.joint_pos(),
                p.joint_vel(),
                p.ee_pos(),
                [p.gripper_width()],
                p.block_pos(),
                p.block_quat(),
                p.block_vel(),
                p.goal_pos(),
            ]
        ).astype(np.float32)

    def render_states(self, states: np.ndarray, seed: int | None = None) -> np.ndarray:
        """Frames ``(T, H, W, 3)`` uint8 of one stored episode's states ``(T, 34)``, drawn under this randomisation.

        The states are laid out as :data:`STATE_LAYOUT`. Each frame shows the scene posed as its state says (arm
        joints, gripper, cube, goal: :meth:`~twist_envs.franka.scene.FrankaPhysics.pose`), with a fresh appearance
        stream drawn from ``seed`` and the terms applied as in an episode: all of them before the first frame, the
        train split's per-step ones before every later frame. So a dataset stored under one randomisation can be
        drawn again under another (other textures, no camera jitter) without running its policy again: the states,
        not the images, are what the teacher and the reward read. The physics is not stepped; :meth:`reset` before
        stepping again. Drawn with ``randomization="none"``, a push episode's frames equal the ones the env showed
        (up to one intensity level on a few pixels); a lift episode's may differ on a few finger pixels (the pads'
        gap does not say how the two finger joints shared it).

        Raises:
            ValueError: ``states`` is not ``(T, 34)`` with T >= 1, or this env draws no images.
        """
        states = np.asarray(states)
        if states.ndim != 2 or states.shape[1] != STATE_DIM or len(states) == 0:
            raise ValueError(f"FrankaSimEnv.render_states: states must be (T, {STATE_DIM}), got {states.shape}")
        if not self._render_enabled:
            raise ValueError("FrankaSimEnv.render_states: this env draws no images (obs_mode='state'); use 'paired'")
        super().reset(seed=seed)
        self._seed_randomization()
        at = STATE_SLICES
        frames = np.empty((len(states), self.image_size, self.image_size, 3), np.uint8)
        for t, s in enumerate(states):
            if t == 0:
                self.randomizer.on_reset(self.mujoco_scene, self._dr_rng)
            else:
                self.randomizer.on_step(self.mujoco_scene, self._dr_rng)
            pose = (s[at["joint_pos"]], s[at["block_pos"]], s[at["block_quat"]], s[at["goal_pos"]])
            self.physics.pose(*pose, s[at["gripper_width"]][0])
            frames[t] = self._render()
        return frames

    def expert_action(self) -> np.ndarray:
        """The scripted controller's action (float32, ``(action_dim,)``) for the current simulator state.

        The controller (:class:`~twist_envs.franka.scripted.ScriptedPolicy`) reads true positions and keeps a
        phase across calls; :meth:`reset` restarts it. Call it once per step of the episode it is to drive.
        A training loop can use it to seed its replay with demonstrations
        (:attr:`~twist_agents.training.loop.LoopConfig.prefill_expert`); the policy never sees it.
        """
        return self._expert.act(self.readout())

    def _state(self) -> np.ndarray:
        """:meth:`state`, the hook the base's ``_observation`` reads."""
        return self.state()

    def _render(self) -> np.ndarray:
        """The policy camera's image of the current step."""
        return self.physics.render(self.image_size)

    def _info(self, r: TaskReadout) -> dict[str, Any]:
        return {
            "success": self.task.success(r),
            "ee_pos": r.ee_pos,
            "block_pos": r.block_pos,
            "goal_pos": r.goal_pos,
            "gripper_width": r.gripper_width,
            # Not part of the task; what the real arm's collision reflex would see (N, see robot_contact_force).
            "contact_force": self.physics.robot_contact_force(),
            "reflex": False,  # step() sets it when contact_force_limit ends the episode
        }

    # -- Gymnasium API ------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Homes the arm, samples block and goal, randomises; all randomness flows from ``self.np_random``."""
        super().reset(seed=seed)
        self._seed_randomization()
        block_xy, goal_xy = self.task.sample_initial(self.np_random)
        self.randomizer.on_reset(self.mujoco_scene, self._dr_rng)
        self.physics.home()
        self.physics.place(block_xy, goal_xy)
        self._expert.reset()
        return self._observation(), self._info(self.readout())

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Moves the tool tip by the scaled action (<= 2 cm per axis); ends early only on a reflex.

        With ``contact_force_limit`` set, a step whose contact force on the robot exceeds it terminates.

        Raises:
            ValueError: the action has the wrong shape or contains NaN/inf (nothing moves).
        """
        delta, gripper = scale_action(action, self.task)
        self.physics.move_ee(delta, gripper)
        self.randomizer.on_step(self.mujoco_scene, self._dr_rng)
        r = self.readout()
        info = self._info(r)
        # Success is judged at the end of the episode (paper); the TimeLimit wrapper ends it after 150 steps,
        # unless a collision reflex (contact_force_limit) ends it first.
        reflex = self.contact_force_limit is not None and info["contact_force"] > self.contact_force_limit
        info["reflex"] = reflex
        return self._observation(), self.task.reward(r), reflex, False, info

    def close(self) -> None:
        """Frees the GL contexts."""
        self.physics.close()


def readout_from_state(state: np.ndarray) -> TaskReadout:
    """Rebuilds the task readout from ``obs["state"]`` (laid out as :data:`STATE_LAYOUT`)."""
    s = np.asarray(state, dtype=np.float64)
    fields = {name: s[where] for name, where in STATE_SLICES.items()}
    return TaskReadout(fields["ee_pos"], fields["block_pos"], fields["goal_pos"], float(fields["gripper_width"][0]))
