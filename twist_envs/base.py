"""The base classes of our environments (in the spirit of Gymnasium's ``MujocoEnv``): what every task repeats.

* :class:`TwistEnv` (all three envs, the real one included): the ``render_mode`` check, the ``Dict``
  observation space of ``"state"`` and/or ``"pixels"``, one ``_observation`` that fills it from two hooks
  (``_state`` and ``_render``), and ``render`` (the image of the current step).
* :class:`RandomizedMujocoEnv` (the simulated envs): the checks of ``obs_mode`` / ``randomization`` /
  ``image_size``, the wiring of the :class:`~wrappers.scene.MujocoScene` and the
  :class:`~wrappers.randomization.Randomizer` (and ``attach_randomizer``, which
  :class:`~wrappers.DomainRandomization` calls), and the appearance stream ``_dr_rng``.

A task keeps only its task and its physics: how to build the model, its action space, reset and step, and
the two hooks. Error messages start with :attr:`TwistEnv.env_name`, so each env's messages read as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from twist_envs.rendering import Renderers
from wrappers.privileged import check_obs_mode
from wrappers.randomization import RANDOMIZATION_MODES, Randomizer, Term
from wrappers.scene import MujocoScene
from wrappers.textures import TextureBank

IMAGE_SIZE_RANGE = (8, 1024)
"""Smallest and largest side (pixels) of a simulated env's square image."""


def observation_space_for(obs_mode: str, state_dim: int, image_size: int) -> spaces.Dict:
    """The ``Dict`` space of an ``obs_mode``: ``"state"`` (``(state_dim,)`` float32) and/or ``"pixels"``.

    Args:
        obs_mode: ``"paired"`` (both keys), ``"state"`` or ``"pixels"``.
        state_dim: length of the state vector.
        image_size: side of the square uint8 RGB image.

    Example:
        >>> sorted(observation_space_for("paired", 5, 64).spaces)
        ['pixels', 'state']
    """
    parts: dict[str, spaces.Space] = {}
    if obs_mode in ("paired", "state"):
        parts["state"] = spaces.Box(-np.inf, np.inf, (state_dim,), np.float32)
    if obs_mode in ("paired", "pixels"):
        parts["pixels"] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
    return spaces.Dict(parts)


class TwistEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """Base of our envs: ``Dict`` observations of ``"state"`` and/or ``"pixels"``, and ``rgb_array`` rendering.

    A subclass sets ``observation_space`` (:func:`observation_space_for`), ``render_mode`` and
    ``_render_enabled`` (whether ``_observation`` draws a frame), and implements ``_state`` (if it has a
    ``"state"`` key) and ``_render``.
    """

    env_name: ClassVar[str] = "TwistEnv"
    """The class name that starts every error message (fixed, so subclasses keep the messages)."""

    render_mode: str | None
    _render_enabled: bool = True
    _last_pixels: np.ndarray | None = None

    # -- checks -------------------------------------------------------------------------------------------
    def _check_render_mode(self, render_mode: str | None) -> None:
        """Refuse a ``render_mode`` other than ``None`` / ``"rgb_array"`` (the message names the env)."""
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"{self.env_name}: render_mode must be None or 'rgb_array', got {render_mode!r}")

    # -- hooks --------------------------------------------------------------------------------------------
    def _state(self) -> np.ndarray:
        """The privileged state vector of the current step (float32)."""
        raise NotImplementedError

    def _render(self) -> np.ndarray:
        """The image of the current step, uint8 ``(image_size, image_size, 3)``."""
        raise NotImplementedError

    def _render_before_first_observation(self) -> np.ndarray | None:
        """What ``render`` returns before any observation was made (default: a fresh frame)."""
        return self._render()

    # -- observations and rendering -----------------------------------------------------------------------
    def _observation(self) -> dict[str, np.ndarray]:
        """The observation of the current step: the keys of ``observation_space``.

        The frame is drawn whenever rendering is enabled (also for ``obs_mode="state"`` with a
        ``render_mode``), so ``render`` shows the step without drawing it twice.
        """
        out: dict[str, np.ndarray] = {}
        if "state" in self.observation_space.spaces:
            out["state"] = self._state()
        if self._render_enabled:
            self._last_pixels = self._render()
            if "pixels" in self.observation_space.spaces:
                out["pixels"] = self._last_pixels
        return out

    def render(self) -> np.ndarray | None:
        """The image of the current step (``render_mode="rgb_array"``)."""
        if self.render_mode != "rgb_array":
            return None
        return self._last_pixels if self._last_pixels is not None else self._render_before_first_observation()


class RandomizedMujocoEnv(TwistEnv):
    """Base of the simulated envs: a MuJoCo scene randomised by :class:`~wrappers.randomization.Term` s.

    A subclass checks its arguments with :meth:`_check_observation_args` and :meth:`_check_render_mode`,
    builds its model, calls :meth:`_init_observations` and :meth:`_wire_scene`, and in ``reset`` / ``step``
    calls :meth:`_seed_randomization`, ``randomizer.on_reset`` and ``randomizer.on_step`` where its
    timing says (right before the frame of the step is drawn).
    """

    obs_mode: str
    randomization: str
    image_size: int
    mujoco_scene: MujocoScene
    randomizer: Randomizer

    # -- checks -------------------------------------------------------------------------------------------
    def _check_observation_args(self, obs_mode: str, randomization: str, image_size: Any) -> None:
        """Refuse an unknown ``obs_mode`` or ``randomization``, or an ``image_size`` outside [8, 1024]."""
        check_obs_mode(obs_mode, self.env_name)
        if randomization not in RANDOMIZATION_MODES:
            raise ValueError(
                f"{self.env_name}: randomization must be one of {RANDOMIZATION_MODES}, got {randomization!r}"
            )
        low, high = IMAGE_SIZE_RANGE
        if (
            isinstance(image_size, bool)
            or not isinstance(image_size, (int, np.integer))
            or not low <= image_size <= high
        ):
            raise ValueError(f"{self.env_name}: image_size must be an int in [{low}, {high}], got {image_size!r}")

    # -- set-up -------------------------------------------------------------------------------------------
    def _init_observations(
        self, obs_mode: str, randomization: str, image_size: int, render_mode: str | None, state_dim: int
    ) -> None:
        """Store the observation settings (checked before) and build the observation space."""
        self.obs_mode, self.randomization = obs_mode, randomization
        self.image_size, self.render_mode = int(image_size), render_mode
        # A state-only env draws no frame unless someone will call render().
        self._render_enabled = obs_mode != "state" or render_mode is not None
        self.observation_space = observation_space_for(obs_mode, state_dim, self.image_size)
        self._last_pixels = None

    def _wire_scene(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        renderers: Renderers,
        banks: Mapping[str, TextureBank],
        terms: Sequence[Term] | None,
        default_terms: Callable[[], Sequence[Term]],
    ) -> None:
        """Make the scene the terms write into and the randomizer that applies them.

        Args:
            model: the compiled model.
            data: its data.
            renderers: the env's renderers (the scene swaps textures in every live GL context).
            banks: the texture banks compiled into the model.
            terms: the terms asked for, or ``None`` for the env's defaults.
            default_terms: builds the env's default terms (called only when ``terms`` is ``None``).
        """
        if self._render_enabled:
            renderers.get(self.image_size)  # exists before the scene syncs texture ids into it
        self.mujoco_scene = MujocoScene(model, data, renderers.contexts, banks)
        self.randomizer = Randomizer(default_terms() if terms is None else terms, self.randomization)  # type: ignore[arg-type]
        self._dr_rng = np.random.default_rng(0)

    def _seed_randomization(self) -> None:
        """Draw the episode's appearance stream from ``np_random`` (its own stream: dynamics stay untouched)."""
        self._dr_rng = np.random.default_rng(int(self.np_random.integers(2**63)))

    # -- randomisation plumbing ---------------------------------------------------------------------------
    def attach_randomizer(self, randomizer: Randomizer) -> None:
        """Use ``randomizer`` instead of the built-in terms (what :class:`~wrappers.DomainRandomization` calls)."""
        self.randomizer = randomizer
