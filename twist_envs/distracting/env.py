"""The six Distracting-Control tasks of the paper's Table I on dm_control, with paired observations.

Each environment steps a dm_control task (``action_repeat`` physics control steps per env step, as Dreamer on
DMC), renders its own camera with a dedicated ``mujoco.Renderer`` and applies domain-randomisation
:class:`~wrappers.randomization.Term` s right before rendering, so the image of step ``t`` shows step ``t``'s
appearance.

Why not the original ``distracting_control`` package: it writes ``tex_rgb`` (removed in MuJoCo 3.2.1), has no
Hopper, and needs DAVIS downloaded by hand. Here the backgrounds are procedural (or a user folder) and are
compiled into the model as a *texture bank*: a background change is a texture-id swap, free at render time.

Rendering defaults (chosen for 64 px images on a CPU rasteriser): shadows and reflections off, skybox on,
4x multisampling kept (it is cheap at 64 px and keeps thin parts such as the cartpole's pole visible).

Example:
    >>> import gymnasium as gym
    >>> import twist_envs
    >>> env = gym.make("TWIST/CartpoleBalance-Distracting-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs["state"].shape, obs["pixels"].shape
    ((5,), (64, 64, 3))
    >>> env.close()
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from dm_control.rl import control
from gymnasium import spaces

from twist_envs.base import RandomizedMujocoEnv
from twist_envs.rendering import Renderers, render_frame
from wrappers.randomization import (
    Term,
    background,
    camera_pose,
    floor_texture,
    light_brightness,
    material_colors,
)
from wrappers.textures import TextureSource, as_texture_source, bank_assets_xml, fill_texture_banks

if TYPE_CHECKING:
    import dm_env

# ----------------------------------------------------------------------------------------------------------
# Tasks
# ----------------------------------------------------------------------------------------------------------

Factory = Callable[[str, dict[str, bytes], np.random.RandomState], control.Environment]


def _cartpole(xml: str, assets: dict[str, bytes], random: np.random.RandomState) -> control.Environment:
    from dm_control.suite import cartpole

    physics = cartpole.Physics.from_xml_string(xml, assets)
    task = cartpole.Balance(swing_up=False, sparse=False, random=random)
    return control.Environment(physics, task, time_limit=cartpole._DEFAULT_TIME_LIMIT)


def _cup(xml: str, assets: dict[str, bytes], random: np.random.RandomState) -> control.Environment:
    from dm_control.suite import ball_in_cup as m

    return control.Environment(
        m.Physics.from_xml_string(xml, assets),
        m.BallInCup(random=random),
        time_limit=m._DEFAULT_TIME_LIMIT,
        control_timestep=m._CONTROL_TIMESTEP,
    )


def _cheetah(xml: str, assets: dict[str, bytes], random: np.random.RandomState) -> control.Environment:
    from dm_control.suite import cheetah as m

    return control.Environment(
        m.Physics.from_xml_string(xml, assets), m.Cheetah(random=random), time_limit=m._DEFAULT_TIME_LIMIT
    )


def _hopper(xml: str, assets: dict[str, bytes], random: np.random.RandomState) -> control.Environment:
    from dm_control.suite import hopper as m

    return control.Environment(
        m.Physics.from_xml_string(xml, assets),
        m.Hopper(hopping=False, random=random),
        time_limit=m._DEFAULT_TIME_LIMIT,
        control_timestep=m._CONTROL_TIMESTEP,
    )


def _walker(xml: str, assets: dict[str, bytes], random: np.random.RandomState) -> control.Environment:
    from dm_control.suite import walker as m

    return control.Environment(
        m.Physics.from_xml_string(xml, assets),
        m.PlanarWalker(move_speed=m._WALK_SPEED, random=random),
        time_limit=m._DEFAULT_TIME_LIMIT,
        control_timestep=m._CONTROL_TIMESTEP,
    )


def _finger(xml: str, assets: dict[str, bytes], random: np.random.RandomState) -> control.Environment:
    from dm_control.suite import finger as m

    return control.Environment(
        m.Physics.from_xml_string(xml, assets),
        m.Turn(target_radius=m._EASY_TARGET_SIZE, random=random),
        time_limit=m._DEFAULT_TIME_LIMIT,
        control_timestep=m._CONTROL_TIMESTEP,
    )


@dataclass(frozen=True)
class DistractingTask:
    """One Table-I task: its dm_control domain/task names and how to build it from (possibly edited) XML."""

    name: str
    domain: str
    task: str
    factory: Factory


TASKS: dict[str, DistractingTask] = {
    t.name: t
    for t in (
        DistractingTask("CupCatch", "ball_in_cup", "catch", _cup),
        DistractingTask("CartpoleBalance", "cartpole", "balance", _cartpole),
        DistractingTask("CheetahRun", "cheetah", "run", _cheetah),
        DistractingTask("HopperStand", "hopper", "stand", _hopper),
        DistractingTask("WalkerWalk", "walker", "walk", _walker),
        DistractingTask("FingerTurnEasy", "finger", "turn_easy", _finger),
    )
}
"""The six tasks of the paper's Table I, by the name used in the env ids."""

# ----------------------------------------------------------------------------------------------------------
# Texture banks compiled into the model
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankSizes:
    """How many textures of each kind and split are compiled into the model, and their size in pixels."""

    train: int = 48
    test: int = 16
    skybox_face: int = 128
    floor: int = 128


def _edit_assets(assets: dict[str, bytes], sizes: BankSizes) -> dict[str, bytes]:
    """Shrink dm_control's 800x4800 skybox (only ever seen at 64 px) and append the texture banks after it."""
    out = dict(assets)
    banks = bank_assets_xml(sizes.train, sizes.test, sizes.skybox_face, sizes.floor)
    sky = out["./common/skybox.xml"].decode()
    sky = re.sub(r'width="800" height="800"', f'width="{sizes.skybox_face}" height="{sizes.skybox_face}"', sky)
    # The original skybox stays first: MuJoCo draws the first skybox texture until a term swaps it.
    out["./common/skybox.xml"] = sky.replace("</asset>", banks + "\n</asset>").encode()
    return out


def distracting_terms(source: TextureSource | None = None) -> tuple[Term, ...]:
    """The paper's Distracting-Control randomisation (Sec. VI-B1) as terms.

    Background and floor textures and object colours change every step in training; the camera is jittered per
    episode; light brightness every step. The test split draws textures from held-out families and colours from
    the training distribution, once per episode.
    """
    return (
        background(source),
        floor_texture(("grid",), source),
        material_colors(),
        light_brightness(scale=(0.6, 1.3)),
        camera_pose((0,), pos_std=0.03, angle_std_deg=2.0, when="reset"),
    )


# ----------------------------------------------------------------------------------------------------------
# The environment
# ----------------------------------------------------------------------------------------------------------


class DistractingControlEnv(RandomizedMujocoEnv):
    """A Distracting-Control task with paired ``{"state", "pixels"}`` observations and domain randomisation.

    Args:
        task: one of :data:`TASKS` (e.g. ``"CartpoleBalance"``).
        obs_mode: ``"paired"``, ``"state"`` or ``"pixels"``.
        randomization: ``"train"`` (every step, training textures), ``"test"`` (once per episode, held-out
            textures) or ``"none"``.
        image_size: side of the square image in pixels.
        action_repeat: dm_control control steps per env step (2, as Dreamer on DMC).
        camera: camera id or name to render.
        texture_source: ``None`` (procedural families), a folder path (images/videos, e.g. DAVIS
            ``JPEGImages/480p``) or a :class:`~wrappers.textures.TextureSource`.
        terms: randomisation terms (default: :func:`distracting_terms`).
        render_mode: ``None`` or ``"rgb_array"`` (returns the last observation image).
        bank_sizes: how many textures to compile into the model per split.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}
    env_name = "DistractingControlEnv"

    def __init__(
        self,
        task: str = "CartpoleBalance",
        obs_mode: str = "paired",
        randomization: str = "train",
        image_size: int = 64,
        action_repeat: int = 2,
        camera: int | str = 0,
        texture_source: TextureSource | str | None = None,
        terms: Sequence[Term] | None = None,
        render_mode: str | None = None,
        bank_sizes: BankSizes = BankSizes(),
    ) -> None:
        if task not in TASKS:
            raise ValueError(f"DistractingControlEnv: unknown task {task!r}; choose from {sorted(TASKS)}")
        self._check_observation_args(obs_mode, randomization, image_size)
        if not isinstance(action_repeat, (int, np.integer)) or action_repeat < 1:
            raise ValueError(f"DistractingControlEnv: action_repeat must be a positive int, got {action_repeat!r}")
        self._check_render_mode(render_mode)
        self.task = TASKS[task]
        self.action_repeat = int(action_repeat)

        from dm_control import suite

        domain = getattr(suite, self.task.domain)
        xml, assets = domain.get_model_and_assets()
        self._dm = self.task.factory(xml, _edit_assets(assets, bank_sizes), np.random.RandomState(0))
        self.physics = self._dm.physics
        n_state = sum(int(np.prod(s.shape)) for s in self._dm.observation_spec().values())
        self._init_observations(obs_mode, randomization, image_size, render_mode, n_state)
        self._time_step: dm_env.TimeStep | None = None  # the last one, which _state reads (set by reset/step)
        model, data = self.physics.model.ptr, self.physics.data.ptr
        try:
            self.camera_id = (
                camera if isinstance(camera, (int, np.integer)) else self.physics.model.name2id(camera, "camera")
            )
        except (KeyError, ValueError) as err:
            raise ValueError(f"DistractingControlEnv: camera {camera!r} not found in {task}") from err
        if not 0 <= int(self.camera_id) < model.ncam:
            raise ValueError(f"DistractingControlEnv: camera must be in [0, {model.ncam}), got {camera!r}")
        self.camera_id = int(self.camera_id)

        banks = fill_texture_banks(model, as_texture_source(texture_source), bank_sizes.train, bank_sizes.test)
        # We never draw shadows, and frames are image_size wide: shrink the GL buffers each context allocates
        # (dm_control asks for a 2048^2 shadow map and 640x480 multisampled offscreen buffers).
        model.vis.quality.shadowsize = 256
        model.vis.global_.offwidth = model.vis.global_.offheight = max(self.image_size, 64)
        self._renderers = Renderers(model)
        self._wire_scene(
            model, data, self._renderers, banks, terms, default_terms=lambda: distracting_terms(texture_source)
        )

        spec = self._dm.action_spec()
        self.action_space = spaces.Box(
            spec.minimum.astype(np.float32), spec.maximum.astype(np.float32), spec.shape, np.float32
        )

    # -- observations -------------------------------------------------------------------------------------
    def _state(self) -> np.ndarray:
        """The dm_control observation of the last time step, flattened in its spec's order (float32)."""
        assert self._time_step is not None, "reset() first"
        return np.concatenate([np.asarray(v, np.float32).ravel() for v in self._time_step.observation.values()])

    def _render(self) -> np.ndarray:
        """The image of the current step from the env's camera."""
        return render_frame(self._renderers.get(self.image_size), self.physics.data.ptr, self.camera_id)

    # -- Gymnasium API ------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode; all randomness (initial state, appearance) flows from ``self.np_random``."""
        super().reset(seed=seed)
        self._dm.task._random = np.random.RandomState(int(self.np_random.integers(2**31)))
        self._seed_randomization()
        self._time_step = self._dm.reset()
        self.randomizer.on_reset(self.mujoco_scene, self._dr_rng)
        return self._observation(), {}

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Apply ``action`` for ``action_repeat`` control steps; returns the summed reward."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self.action_space.shape:
            raise ValueError(f"DistractingControlEnv: action must have shape {self.action_space.shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"DistractingControlEnv: action contains NaN or inf: {a}")
        reward, ts = 0.0, None
        for _ in range(self.action_repeat):
            ts = self._dm.step(a)
            reward += ts.reward or 0.0
            if ts.last():
                break
        assert ts is not None
        self._time_step = ts
        self.randomizer.on_step(self.mujoco_scene, self._dr_rng)
        terminated = bool(ts.last() and ts.discount == 0.0)
        truncated = bool(ts.last() and not terminated)
        return self._observation(), float(reward), terminated, truncated, {}

    def close(self) -> None:
        """Free the GL context (explicitly: EGL teardown at interpreter exit is noisy and unordered)."""
        self._renderers.close()


def make(task: str, **kwargs: Any) -> DistractingControlEnv:
    """Entry point used by the registered ids; rejects unknown keyword arguments by name."""
    import inspect

    allowed = set(inspect.signature(DistractingControlEnv.__init__).parameters) - {"self", "task"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise ValueError(
            f"TWIST/{task}-Distracting-v0: unknown keyword argument(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    return DistractingControlEnv(task, **kwargs)
