"""Domain randomisation as data: terms that say *what* to randomise, *when*, and from *which distribution*.

A :class:`Term` is a pure function ``fn(scene, rng, split, **params)`` plus its parameters and when it applies
(``"reset"``: once per episode; ``"step"``: every environment step). Reading a list of terms is reading the
randomised MDP, as with Isaac Lab's ``EventTerm``. The paper's protocol (Sec. VI-B1) is encoded in the split:

* ``split="train"``: every term applies at its own ``when`` (appearance every step, physics every episode);
* ``split="test"``: every term applies once per episode, at reset, drawing textures from the held-out families
  (textures at test time are "usually consistent", so the paper randomises only at the episode start).

Terms reach MuJoCo through :class:`~wrappers.scene.MujocoScene`, a small adapter around ``MjModel``/``MjData``
and the render contexts that display them (module :mod:`wrappers.scene`; both names are re-exported here).
:func:`~wrappers.scene.scene_of` finds one for our environments and builds one for Gymnasium's MuJoCo
environments (``gym.make("HalfCheetah-v5")``) and for dm_control environments.

Textures have two paths. Environments that compile a *texture bank* into their model (ours do) swap textures
by id, which costs nothing per frame. Any other model gets the texture pixels written into its existing
texture slot and re-uploaded to the GPU, which costs time proportional to the texture size (dm_control's
800x4800 skybox: ~45 ms; Gymnasium's 100x600 one: well under 1 ms).

Example:
    >>> import gymnasium as gym
    >>> from wrappers import DomainRandomization, PrivilegedObservation
    >>> from wrappers.randomization import default_appearance_terms
    >>> env = gym.make("HalfCheetah-v5", render_mode="rgb_array", width=64, height=64)
    >>> env = PrivilegedObservation(DomainRandomization(env, default_appearance_terms(), split="train"))
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs), obs["pixels"].shape
    (['pixels', 'state'], (64, 64, 3))
    >>> obs2, *_ = env.step(env.action_space.sample())
    >>> bool((obs["pixels"] != obs2["pixels"]).any())  # a new appearance every step
    True
    >>> env.close()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym
import mujoco
import numpy as np

# The scene adapter lives in wrappers.scene; these names stay importable from here as before.
from wrappers.scene import MujocoScene as MujocoScene
from wrappers.scene import scene_of as scene_of
from wrappers.textures import Split, TextureSource, as_texture_source
from wrappers.textures import TextureBank as TextureBank

When = Literal["reset", "step"]
RandomizationMode = Literal["train", "test", "none"]
RANDOMIZATION_MODES: tuple[str, ...] = ("train", "test", "none")

_RGB = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)


# --------------------------------------------------------------------------------------------------------
# Terms
# --------------------------------------------------------------------------------------------------------

TermFn = Callable[..., None]


def _names(term: str, arg: str, names: Sequence[str | int] | None) -> tuple[str | int, ...] | None:
    """``names`` as a tuple; a bare string (``"ffoot"`` for ``["ffoot"]``) would be split into letters."""
    if names is None:
        return None
    if isinstance(names, (str, bytes)):
        raise ValueError(f"{term}: {arg} must be a list of names, got the string {names!r} (write [{names!r}])")
    return tuple(names)


def _range(term: str, arg: str, value: Any, low: float) -> tuple[float, float]:
    """Check a ``(low, high)`` parameter of a term: two finite numbers, ordered, both >= ``low``."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{term}: {arg} must be (low, high), two numbers, got {value!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{term}: {arg} must be finite, got {value!r}")
    if a > b:
        raise ValueError(f"{term}: {arg} must be (low, high) with low <= high, got {tuple(value)!r}")
    if a < low:
        raise ValueError(f"{term}: {arg} must be >= {low:g}, got {tuple(value)!r}")
    return a, b


def _at_least(term: str, arg: str, value: Any, low: float) -> float:
    """Check a scalar parameter of a term: a finite number >= ``low``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{term}: {arg} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x < low:
        raise ValueError(f"{term}: {arg} must be a finite number >= {low:g}, got {value!r}")
    return x


@dataclass(frozen=True)
class Term:
    """One randomisation: ``fn(scene, rng, split, **params)`` applied at ``when`` (train split).

    Attributes:
        name: what it randomises, for logs and errors.
        fn: a pure function of (scene, generator, split, **params) that writes into the scene.
        when: ``"step"`` (every step) or ``"reset"`` (every episode) in the train split; the test split
            applies every term once per episode.
        params: keyword arguments passed to ``fn``.
        appearance: ``True`` if it only changes what the camera sees (never the dynamics).
    """

    name: str
    fn: TermFn
    when: When = "step"
    params: Mapping[str, Any] = field(default_factory=dict)
    appearance: bool = True

    def __post_init__(self) -> None:
        if self.when not in ("reset", "step"):
            raise ValueError(f"Term {self.name!r}: when must be 'reset' or 'step', got {self.when!r}")

    def apply(self, scene: MujocoScene, rng: np.random.Generator, split: Split) -> None:
        """Apply the term once."""
        self.fn(scene, rng, split, **self.params)


def _pick_texture(
    scene: MujocoScene, rng: np.random.Generator, split: Split, bank: str, source: TextureSource | None, n_virtual: int
) -> tuple[int | None, np.ndarray | None]:
    """Either a bank texture id (fast path) or a fresh image from ``source`` (general path)."""
    b = scene.banks.get(bank)
    if b is not None and b.ids.get(split):
        ids = b.ids[split]
        return ids[int(rng.integers(len(ids)))], None
    src = as_texture_source(source)
    return None, src.texture(split, int(rng.integers(n_virtual)), (128, 128))


def _background(
    scene: MujocoScene, rng: np.random.Generator, split: Split, source: TextureSource | None, n_textures: int
) -> None:
    texid, image = _pick_texture(scene, rng, split, "skybox", source, n_textures)
    if texid is not None:
        scene.show_skybox(texid)
        return
    sky = scene.skybox_texture()
    if sky is None:
        raise ValueError("background term: the model has no skybox texture and no 'skybox' bank")
    scene.write_texture(sky, image)


def background(source: TextureSource | None = None, when: When = "step", n_textures: int = 256) -> Term:
    """Randomise the background (the skybox texture).

    Args:
        source: texture source (default: procedural families); ignored where the env has a ``"skybox"`` bank,
            whose textures were drawn from the env's own source when it was built.
        when: when it applies in the train split.
        n_textures: how many distinct textures per split the general path cycles through (>= 1).

    Raises:
        ValueError: a parameter out of range (the message names it).
    """
    n = int(_at_least("background", "n_textures", n_textures, 1))
    return Term("background", _background, when, {"source": source, "n_textures": n})


def _floor(
    scene: MujocoScene,
    rng: np.random.Generator,
    split: Split,
    materials: Sequence[str] | None,
    source: TextureSource | None,
    n_textures: int,
) -> None:
    mats = scene.ids(mujoco.mjtObj.mjOBJ_MATERIAL, materials)
    for m in mats:
        texid, image = _pick_texture(scene, rng, split, "floor", source, n_textures)
        if texid is not None:
            scene.set_material_texture(int(m), texid)
        else:
            own = int(scene.default("mat_texid")[m, _RGB])
            if own < 0:
                raise ValueError(f"floor_texture term: material {m} has no texture to overwrite and no 'floor' bank")
            scene.write_texture(own, image)


def floor_texture(
    materials: Sequence[str] = ("grid",),
    source: TextureSource | None = None,
    when: When = "step",
    n_textures: int = 256,
) -> Term:
    """Randomise the texture of floor/table materials (bank swap when the env has a ``"floor"`` bank).

    Args:
        materials: names of the materials to re-texture.
        source: texture source for models without a bank (default: procedural families).
        when: when it applies in the train split.
        n_textures: distinct textures per split on the general path (>= 1).

    Raises:
        ValueError: a parameter out of range (the message names it).
    """
    return Term(
        "floor_texture",
        _floor,
        when,
        {
            "materials": _names("floor_texture", "materials", materials),
            "source": source,
            "n_textures": int(_at_least("floor_texture", "n_textures", n_textures, 1)),
        },
    )


def _colors(
    scene: MujocoScene,
    rng: np.random.Generator,
    split: Split,
    materials: Sequence[str] | None,
    geoms: Sequence[str] | None,
    low: float,
    high: float,
) -> None:
    # Same distribution in both splits: the paper holds colours to the training distribution at test time.
    if materials is None or len(materials):
        mats = scene.ids(mujoco.mjtObj.mjOBJ_MATERIAL, materials)
        if materials is None:  # all untextured materials: textured ones are the floor's/background's business
            mats = mats[scene.default("mat_texid")[mats, _RGB] < 0]
        scene.model.mat_rgba[mats, :3] = rng.uniform(low, high, (len(mats), 3))
    if geoms:
        g = scene.ids(mujoco.mjtObj.mjOBJ_GEOM, geoms)
        scene.model.geom_rgba[g, :3] = rng.uniform(low, high, (len(g), 3))


def material_colors(
    materials: Sequence[str] | None = None,
    geoms: Sequence[str] | None = None,
    when: When = "step",
    low: float = 0.05,
    high: float = 0.95,
) -> Term:
    """Randomise RGB of materials (``None``: every untextured material) and of named geoms.

    Args:
        materials: material names, or ``None`` for all untextured materials, or ``()`` for none.
        geoms: geom names whose ``geom_rgba`` to randomise (geoms without a material).
        when: when it applies in the train split.
        low: lower bound of each channel, in [0, 1].
        high: upper bound of each channel, in [low, 1].

    Raises:
        ValueError: a parameter out of range (the message names it).
    """
    lo, hi = _at_least("material_colors", "low", low, 0.0), _at_least("material_colors", "high", high, 0.0)
    if lo > hi or hi > 1.0:
        raise ValueError(
            f"material_colors: low and high must satisfy 0 <= low <= high <= 1, got low={low}, high={high}"
        )
    return Term(
        "material_colors",
        _colors,
        when,
        {
            "materials": _names("material_colors", "materials", materials),
            "geoms": _names("material_colors", "geoms", geoms or ()),
            "low": lo,
            "high": hi,
        },
    )


def _lights(
    scene: MujocoScene,
    rng: np.random.Generator,
    split: Split,
    lights: Sequence[str] | None,
    scale: tuple[float, float],
    headlight: bool,
) -> None:
    if scene.model.nlight:
        ids = scene.ids(mujoco.mjtObj.mjOBJ_LIGHT, lights)
        s = rng.uniform(*scale, (len(ids), 1))
        scene.model.light_diffuse[ids] = np.clip(scene.default("light_diffuse")[ids] * s, 0, 1)
    if headlight:
        s = rng.uniform(*scale)
        scene.model.vis.headlight.diffuse[:] = np.clip(scene.default("vis.headlight.diffuse") * s, 0, 1)
        scene.model.vis.headlight.ambient[:] = np.clip(scene.default("vis.headlight.ambient") * s, 0, 1)


def light_brightness(
    lights: Sequence[str] | None = None,
    scale: tuple[float, float] = (0.5, 1.3),
    headlight: bool = True,
    when: When = "step",
) -> Term:
    """Scale the diffuse brightness of lights (and the headlight) by a factor drawn from ``scale``.

    Args:
        lights: light names, or ``None`` for every light.
        scale: range ``(low, high)`` of the multiplicative factor, ``0 <= low <= high``.
        headlight: also scale the headlight's diffuse and ambient terms.
        when: when it applies in the train split.

    Raises:
        ValueError: a parameter out of range (the message names it).
    """
    return Term(
        "light_brightness",
        _lights,
        when,
        {
            "lights": _names("light_brightness", "lights", lights),
            "scale": _range("light_brightness", "scale", scale, 0.0),
            "headlight": headlight,
        },
    )


def _small_rotation(rng: np.random.Generator, std_rad: float) -> np.ndarray:
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis) + 1e-12
    angle = rng.normal(0.0, std_rad)
    return np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * axis])


def _camera(
    scene: MujocoScene,
    rng: np.random.Generator,
    split: Split,
    cameras: Sequence[str | int],
    pos_std: float,
    angle_std_deg: float,
) -> None:
    for c in scene.ids(mujoco.mjtObj.mjOBJ_CAMERA, cameras):
        scene.model.cam_pos[c] = scene.default("cam_pos")[c] + rng.normal(0.0, pos_std, 3)
        q = np.empty(4)
        mujoco.mju_mulQuat(q, _small_rotation(rng, math.radians(angle_std_deg)), scene.default("cam_quat")[c])
        scene.model.cam_quat[c] = q
    # Camera poses in MjData were computed from the old model values; recompute them so this very frame uses
    # the new pose (otherwise the first image of an episode would show the previous episode's camera).
    mujoco.mj_camlight(scene.model, scene.data)


def camera_pose(
    cameras: Sequence[str | int] = (0,), pos_std: float = 0.02, angle_std_deg: float = 2.0, when: When = "reset"
) -> Term:
    """Jitter camera position (Gaussian, metres) and orientation (random axis, Gaussian angle) around the default.

    Args:
        cameras: camera names or ids.
        pos_std: standard deviation of the position offset in metres (>= 0).
        angle_std_deg: standard deviation of the rotation angle in degrees (>= 0).
        when: when it applies in the train split (per episode by default: a camera moved between episodes).

    Raises:
        ValueError: a parameter out of range (the message names it).
    """
    params = {
        "cameras": _names("camera_pose", "cameras", cameras),
        "pos_std": _at_least("camera_pose", "pos_std", pos_std, 0.0),
        "angle_std_deg": _at_least("camera_pose", "angle_std_deg", angle_std_deg, 0.0),
    }
    return Term("camera_pose", _camera, when, params)


def _friction(
    scene: MujocoScene, rng: np.random.Generator, split: Split, geoms: Sequence[str], scale: tuple[float, float]
) -> None:
    g = scene.ids(mujoco.mjtObj.mjOBJ_GEOM, geoms)
    scene.model.geom_friction[g, 0] = scene.default("geom_friction")[g, 0] * rng.uniform(*scale, len(g))


def friction(geoms: Sequence[str], scale: tuple[float, float] = (0.5, 1.5), when: When = "reset") -> Term:
    """Scale the sliding friction of ``geoms`` (a physics term: it changes the dynamics).

    Args:
        geoms: geom names.
        scale: range ``(low, high)`` of the multiplicative factor, ``0 <= low <= high``.
        when: when it applies in the train split (per episode, as in the paper).

    Raises:
        ValueError: a parameter out of range (the message names it).
    """
    params = {"geoms": _names("friction", "geoms", geoms), "scale": _range("friction", "scale", scale, 0.0)}
    return Term("friction", _friction, when, params, appearance=False)


def _mass(
    scene: MujocoScene, rng: np.random.Generator, split: Split, bodies: Sequence[str], scale: tuple[float, float]
) -> None:
    b = scene.ids(mujoco.mjtObj.mjOBJ_BODY, bodies)
    s = rng.uniform(*scale, len(b))
    scene.model.body_mass[b] = scene.default("body_mass")[b] * s
    # Scale inertia with mass so the body stays a physically consistent rigid body of the same shape.
    scene.model.body_inertia[b] = scene.default("body_inertia")[b] * s[:, None]
    # Derived constants (body_invweight0, which scales contact softness, subtree masses, ...) must follow the
    # new masses, or contacts misbehave (pushed blocks "exploded" before this). mj_setConst overwrites the
    # MjData it is given, so it gets a scratch one.
    mujoco.mj_setConst(scene.model, scene.scratch_data())


def body_mass(bodies: Sequence[str], scale: tuple[float, float] = (0.5, 1.5), when: When = "reset") -> Term:
    """Scale the mass (and inertia) of ``bodies`` (a physics term).

    Args:
        bodies: body names.
        scale: range ``(low, high)`` of the multiplicative factor, ``0 < low <= high``.
        when: when it applies in the train split.

    Raises:
        ValueError: a parameter out of range (the message names it).
    """
    lo, hi = _range("body_mass", "scale", scale, 0.0)
    if lo <= 0:  # a massless body makes MuJoCo's inertia matrix singular
        raise ValueError(f"body_mass: scale must be > 0 (a body needs mass), got {tuple(scale)!r}")
    params = {"bodies": _names("body_mass", "bodies", bodies), "scale": (lo, hi)}
    return Term("body_mass", _mass, when, params, appearance=False)


def default_appearance_terms(source: TextureSource | None = None) -> tuple[Term, ...]:
    """The Distracting-Control-style appearance terms: background, floor, colours, light, camera.

    Works on any MuJoCo model with a skybox and a textured floor material named ``"grid"`` (dm_control) or
    ``"MatPlane"`` (Gymnasium); a missing floor material is skipped.
    """
    return (
        background(source),
        Term("floor_texture", _floor_if_present, "step", {"source": source, "n_textures": 256}),
        material_colors(),
        light_brightness(),
        camera_pose(),
    )


def appearance_terms_for(env: gym.Env | Any, source: TextureSource | None = None) -> tuple[Term, ...]:
    """The appearance terms that suit ``env``: what :class:`DomainRandomization` uses when given no terms.

    * Our environments (they carry a tuned ``randomizer``): the appearance terms of their own list (physics
      terms such as the Franka block's friction and mass are left out).
    * Any other MuJoCo model: :func:`default_appearance_terms` minus what the model cannot show: the
      background only if it has a skybox texture (or a ``"skybox"`` bank), the camera jitter only if it
      has a camera; the floor term skips itself when no floor material exists.

    Args:
        env: a MuJoCo-based environment (ours, Gymnasium's or dm_control's).
        source: texture source for models without a texture bank (default: procedural families).

    Raises:
        TypeError: the environment is not MuJoCo-based.
    """
    own = getattr(getattr(env, "unwrapped", env), "randomizer", None)
    if isinstance(own, Randomizer):
        return tuple(t for t in own.terms if t.appearance)
    scene = scene_of(env)
    has_sky = scene.skybox_texture() is not None or "skybox" in scene.banks
    return tuple(
        t
        for t in default_appearance_terms(source)
        if (t.name != "background" or has_sky) and (t.name != "camera_pose" or scene.model.ncam > 0)
    )


def _floor_if_present(
    scene: MujocoScene, rng: np.random.Generator, split: Split, source: TextureSource | None, n_textures: int
) -> None:
    names = [
        n
        for n in ("grid", "MatPlane", "floor", "table")
        if mujoco.mj_name2id(scene.model, mujoco.mjtObj.mjOBJ_MATERIAL, n) >= 0
    ]
    names = [n for n in names if scene.default("mat_texid")[scene.ids(mujoco.mjtObj.mjOBJ_MATERIAL, [n])[0], _RGB] >= 0]
    if names:
        _floor(scene, rng, split, names, source, n_textures)


class Randomizer:
    """Applies terms according to the split; the engine shared by our envs and :class:`DomainRandomization`.

    Args:
        terms: the terms.
        split: ``"train"``, ``"test"`` or ``"none"`` (no term ever applies).
    """

    def __init__(self, terms: Sequence[Term], split: RandomizationMode) -> None:
        if split not in RANDOMIZATION_MODES:
            raise ValueError(f"randomization must be one of {RANDOMIZATION_MODES}, got {split!r}")
        if isinstance(terms, Term):
            raise TypeError(f"DomainRandomization: terms must be a list of Term objects; write [{terms.name}(...)]")
        for t in terms:
            if not isinstance(t, Term):
                raise TypeError(f"DomainRandomization: terms must be Term objects, got {type(t).__name__}")
        self.terms = tuple(terms)
        self.split = split

    def on_reset(self, scene: MujocoScene, rng: np.random.Generator) -> None:
        """Episode start: every term in the test split; every term in the train split (a fresh start)."""
        if self.split == "none":
            return
        for t in self.terms:
            t.apply(scene, rng, self.split)  # type: ignore[arg-type]

    def on_step(self, scene: MujocoScene, rng: np.random.Generator) -> None:
        """After each step: the train split's ``"step"`` terms."""
        if self.split != "train":
            return
        for t in self.terms:
            if t.when == "step":
                t.apply(scene, rng, "train")


class DomainRandomization(gym.Wrapper):
    """Randomise a MuJoCo environment's appearance and physics with :class:`Term` data.

    On our own environments the wrapper hands its terms to the environment, which applies them right before it
    renders, so the observation of the same step shows the new appearance. On any other MuJoCo environment it
    applies them after the inner ``reset``/``step``; render *after* this wrapper (for example with
    :class:`wrappers.PrivilegedObservation` outside it) to see them.

    Randomness comes from a generator seeded by ``reset(seed=...)`` on a stream of its own, so the inner
    environment's random stream (and hence its dynamics) is untouched by appearance terms.

    Without ``terms`` it randomises the appearance terms that suit the environment
    (:func:`appearance_terms_for`): background, floor texture, material colours, light brightness and
    camera pose, each where the model has something to apply it to.

    Example:
        >>> import gymnasium as gym
        >>> from wrappers.randomization import DomainRandomization, light_brightness
        >>> env = DomainRandomization(gym.make("HalfCheetah-v5"), [light_brightness()], split="test")
        >>> _ = env.reset(seed=1)
        >>> env.close()
        >>> env = DomainRandomization(gym.make("HalfCheetah-v5"))  # the appearance terms that suit it
        >>> [t.name for t in env.randomizer.terms]
        ['background', 'floor_texture', 'material_colors', 'light_brightness', 'camera_pose']
        >>> env.close()

    Args:
        env: a MuJoCo-based environment.
        terms: the randomisation terms; ``None`` (default): :func:`appearance_terms_for` ``(env)``.
        split: ``"train"`` (per-term timing, training distributions), ``"test"`` (once per episode, held-out
            distributions) or ``"none"``.

    Raises:
        TypeError: ``env`` is not MuJoCo-based, or a term is not a :class:`Term`.
        ValueError: an unknown ``split``.
    """

    def __init__(self, env: gym.Env, terms: Sequence[Term] | None = None, split: RandomizationMode = "train") -> None:
        super().__init__(env)
        self.scene = scene_of(env)
        self.randomizer = Randomizer(appearance_terms_for(env) if terms is None else terms, split)
        attach = getattr(env.unwrapped, "attach_randomizer", None)
        self._attached = callable(attach)
        if self._attached:
            attach(self.randomizer)
        self._rng: np.random.Generator | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the inner env, then (non-attached envs) apply the episode's terms."""
        obs, info = self.env.reset(seed=seed, options=options)
        if self._attached:
            return obs, info
        if seed is not None or self._rng is None:
            base = seed if seed is not None else int(self.env.unwrapped.np_random.integers(2**31))
            self._rng = np.random.default_rng([base, 0x7A157])
        self.randomizer.on_reset(self.scene, self._rng)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the inner env, then (non-attached envs) apply the train split's per-step terms."""
        out = self.env.step(action)
        if not self._attached and self._rng is not None:
            self.randomizer.on_step(self.scene, self._rng)
        return out
