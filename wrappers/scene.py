"""The scene adapter: what a randomisation term may touch, and how to find it behind any MuJoCo environment.

:class:`MujocoScene` wraps a ``mujoco.MjModel``/``MjData`` and the render contexts that display them (texture
and skybox swaps must reach every live GL context). :func:`scene_of` finds or builds one for our environments
(which own theirs), for Gymnasium's MuJoCo environments and for dm_control environments.

Example:
    >>> import gymnasium as gym
    >>> env = gym.make("HalfCheetah-v5")
    >>> scene = scene_of(env)
    >>> scene is scene_of(env), hasattr(env.unwrapped, "mujoco_scene")  # looked up, nothing written onto env
    (True, False)
    >>> env.close()
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from wrappers.textures import TextureBank

_RGB = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)
_NTEXROLE = int(mujoco.mjtTextureRole.mjNTEXROLE)


class MujocoScene:
    """What a randomisation term may touch: the model, the data, and the render contexts that show them.

    Args:
        model: the ``mujoco.MjModel`` the simulator steps and renders.
        data: its ``mujoco.MjData``.
        contexts: returns the live ``(MjrContext, make_current)`` pairs (empty before the first render);
            needed to swap the skybox and to re-upload textures.
        banks: texture banks compiled into the model, by name (``"skybox"``, ``"floor"``, ...).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        contexts: Callable[[], list[tuple[mujoco.MjrContext, Callable[[], None]]]] | None = None,
        banks: Mapping[str, TextureBank] | None = None,
    ) -> None:
        self.model = model
        self.data = data
        self._contexts = contexts or (lambda: [])
        self.banks: dict[str, TextureBank] = dict(banks or {})
        self._defaults: dict[str, np.ndarray] = {}
        self._skybox: int | None = None
        self._scratch: mujoco.MjData | None = None

    # -- defaults: terms scale or jitter around the values the model was compiled with -------------------
    def default(self, attr: str) -> np.ndarray:
        """The compiled value of a model array (``"light_diffuse"``, ``"cam_pos"``, ...), copied once."""
        if attr not in self._defaults:
            if attr.startswith("vis."):
                obj, name = attr[4:].split(".")
                self._defaults[attr] = np.array(getattr(getattr(self.model.vis, obj), name), copy=True)
            else:
                self._defaults[attr] = np.array(getattr(self.model, attr), copy=True)
        return self._defaults[attr]

    def ids(self, obj: mujoco.mjtObj, names: Iterable[str | int] | None) -> np.ndarray:
        """Ids of named objects (``None`` means every object of that type); unknown names raise ``ValueError``."""
        count = {
            mujoco.mjtObj.mjOBJ_MATERIAL: self.model.nmat,
            mujoco.mjtObj.mjOBJ_GEOM: self.model.ngeom,
            mujoco.mjtObj.mjOBJ_LIGHT: self.model.nlight,
            mujoco.mjtObj.mjOBJ_CAMERA: self.model.ncam,
            mujoco.mjtObj.mjOBJ_BODY: self.model.nbody,
            mujoco.mjtObj.mjOBJ_TEXTURE: self.model.ntex,
        }[obj]
        if names is None:
            return np.arange(count)
        out = []
        for n in names:
            i = n if isinstance(n, (int, np.integer)) else mujoco.mj_name2id(self.model, obj, n)
            if not 0 <= i < count:
                raise ValueError(f"MujocoScene: no {obj.name[6:].lower()} named {n!r} in the model")
            out.append(int(i))
        return np.asarray(out, dtype=int)

    def scratch_data(self) -> mujoco.MjData:
        """A spare ``MjData`` for computations that overwrite their data (``mj_setConst``), made once."""
        if self._scratch is None:
            self._scratch = mujoco.MjData(self.model)
        return self._scratch

    # -- textures ---------------------------------------------------------------------------------------
    def skybox_texture(self) -> int | None:
        """Id of the texture MuJoCo draws as the skybox (the first of type skybox), or ``None``."""
        hits = np.flatnonzero(self.model.tex_type == mujoco.mjtTexture.mjTEXTURE_SKYBOX)
        return int(hits[0]) if hits.size else None

    def show_skybox(self, texid: int) -> None:
        """Draw texture ``texid`` (a cube texture uploaded with the model) as the background, at no cost."""
        self._skybox = texid
        self.sync_contexts()

    def set_material_texture(self, material: int, texid: int) -> None:
        """Give ``material`` the RGB texture ``texid`` (an id swap: no upload)."""
        self.model.mat_texid[material, _RGB] = texid
        for con, _ in self._contexts():
            con.mat_texid[material * _NTEXROLE + _RGB] = texid

    def sync_contexts(self) -> None:
        """Push id swaps made before a context existed into every live context (call after creating one)."""
        is_sky = np.flatnonzero(self.model.tex_type == mujoco.mjtTexture.mjTEXTURE_SKYBOX)
        for con, _ in self._contexts():
            if self._skybox is not None:
                # MuJoCo draws the first texture whose *context* type is skybox. Every skybox texture is already
                # uploaded as a cube map, so relabelling the others as plain cubes selects ours for free.
                types = con.textureType
                types[is_sky] = int(mujoco.mjtTexture.mjTEXTURE_CUBE)
                types[self._skybox] = int(mujoco.mjtTexture.mjTEXTURE_SKYBOX)
            mat = np.flatnonzero(self.model.mat_texid[:, _RGB] >= 0)
            con.mat_texid[mat * _NTEXROLE + _RGB] = self.model.mat_texid[mat, _RGB]

    def write_texture(self, texid: int, image: np.ndarray) -> None:
        """Overwrite texture ``texid`` with ``image`` (nearest-resized/tiled to fit) and re-upload it.

        This is the general path for models without a bank; its cost grows with the texture's size.
        """
        w, h, nc = (
            int(self.model.tex_width[texid]),
            int(self.model.tex_height[texid]),
            int(self.model.tex_nchannel[texid]),
        )
        adr = int(self.model.tex_adr[texid])
        if self.model.tex_type[texid] == mujoco.mjtTexture.mjTEXTURE_2D:
            faces, fh = 1, h
        else:  # cube/skybox: six square faces stacked vertically (w x 6w), or one face repeated
            faces, fh = (6, w) if h == 6 * w else (1, h)
        ys = (np.arange(fh) * image.shape[0] / fh).astype(int)
        xs = (np.arange(w) * image.shape[1] / w).astype(int)
        face = image[ys][:, xs]
        if nc == 4:
            face = np.concatenate([face, np.full(face.shape[:2] + (1,), 255, np.uint8)], axis=-1)
        pix = np.tile(face[..., :nc], (faces, 1, 1))
        self.model.tex_data[adr : adr + pix.size] = pix.reshape(-1)
        for con, make_current in self._contexts():
            make_current()
            mujoco.mjr_uploadTexture(self.model, con, texid)


_SCENES: weakref.WeakKeyDictionary[Any, MujocoScene] = weakref.WeakKeyDictionary()
"""The scene built for each environment that is not ours, keyed weakly by the environment.

Defaults must be captured once per environment: two wrappers on one environment then share one scene, and
the second never takes the first one's randomised values for the compiled ones. Keeping the cache here,
rather than in an attribute written onto the environment, leaves other people's objects untouched; an entry
goes away with its environment (the scene holds the model, data and renderer, never the environment)."""


def _build_scene(base: Any) -> MujocoScene:
    """A new :class:`MujocoScene` for a Gymnasium MuJoCo env or a dm_control env (see :func:`scene_of`)."""
    if isinstance(getattr(base, "model", None), mujoco.MjModel) and hasattr(base, "data"):
        renderer = getattr(base, "mujoco_renderer", None)

        def gym_contexts() -> list[tuple[mujoco.MjrContext, Callable[[], None]]]:
            viewers = getattr(renderer, "_viewers", {}) if renderer is not None else {}
            out = []
            for v in viewers.values():
                if getattr(v, "con", None) is not None:
                    make_current = getattr(v, "make_context_current", None) or (lambda: None)
                    out.append((v.con, make_current))
            return out

        return MujocoScene(base.model, base.data, gym_contexts)
    physics = getattr(base, "physics", None) or getattr(getattr(base, "_env", None), "physics", None)
    if physics is None:
        raise TypeError(
            f"DomainRandomization: {type(base).__name__} is not MuJoCo-based (no MjModel, no dm_control physics)"
        )

    def dm_contexts() -> list[tuple[mujoco.MjrContext, Callable[[], None]]]:
        ctxs = getattr(physics, "_contexts", None)
        if ctxs is None:
            return []
        gl = ctxs.gl

        def make_current() -> None:
            gl.make_current().__enter__()

        return [(ctxs.mujoco.ptr, make_current)]

    return MujocoScene(physics.model.ptr, physics.data.ptr, dm_contexts)


def scene_of(env: gym.Env | Any) -> MujocoScene:
    """Build (or fetch) the :class:`MujocoScene` behind an environment.

    Supports our environments (which own a ``mujoco_scene``), Gymnasium's MuJoCo environments
    (``model``/``data`` and a ``mujoco_renderer``) and dm_control environments (``physics``). The scene of an
    environment that is not ours is built once and then looked up (:data:`_SCENES`); nothing is written onto
    the environment.

    Raises:
        TypeError: the environment is not MuJoCo-based (names what was found).
    """
    base = env.unwrapped if hasattr(env, "unwrapped") else env
    scene = getattr(base, "mujoco_scene", None)
    if isinstance(scene, MujocoScene):
        return scene
    try:
        scene = _SCENES.get(base)
    except TypeError:  # unhashable or not weak-referenceable: no cache, a scene per call
        return _build_scene(base)
    if scene is None:
        scene = _SCENES[base] = _build_scene(base)
    return scene
