"""Offscreen rendering shared by our simulated environments: defaults, safe frames, clean exit.

* :func:`make_renderer`: a ``mujoco.Renderer`` with our defaults (shadows and reflections off: 64 px images on
  a CPU rasteriser), closed automatically at interpreter exit.
* :func:`render_frame`: one frame, with garbage collection held off while it renders. A collection inside
  ``render()`` may free another environment's GL context, which un-binds ours and yields a black frame.
* :func:`close_renderer`: free a renderer *in its own GL context*. ``mujoco.Renderer.close`` (also run by its
  ``__del__``) frees the MjrContext's textures and framebuffers in whatever context is current, so closing
  or dropping one environment after another has rendered deleted the *other* environment's GL objects
  (measured: half of its later frames black, the rest garbage).
"""

from __future__ import annotations

import atexit
import gc
import weakref
from collections.abc import Callable

import mujoco
import numpy as np

_OPEN_RENDERERS: weakref.WeakSet[mujoco.Renderer] = weakref.WeakSet()


def _close_open_renderers() -> None:
    # Closed before EGL is torn down; left to __del__ they print EGLError tracebacks at interpreter exit.
    for r in list(_OPEN_RENDERERS):
        try:
            close_renderer(r)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def track_renderer(renderer: mujoco.Renderer) -> None:
    """Close ``renderer`` at exit if nobody did.

    The hook is (re-)registered after a GL context exists: atexit runs last-in first-out, and MuJoCo registers
    its own EGL teardown when it makes its first context, so ours must come later to run first.
    """
    atexit.unregister(_close_open_renderers)
    atexit.register(_close_open_renderers)
    _OPEN_RENDERERS.add(renderer)


def close_renderer(renderer: mujoco.Renderer) -> None:
    """Close ``renderer`` with its own GL context current, so the GL objects freed are its own."""
    gl = getattr(renderer, "_gl_context", None)
    if gl is not None and getattr(renderer, "_mjr_context", None) is not None:
        gl.make_current()
    renderer.close()


def make_renderer(model: mujoco.MjModel, size: int) -> mujoco.Renderer:
    """A square offscreen renderer with shadows and reflections off, tracked for a clean exit."""
    if model.vis.global_.offwidth < size or model.vis.global_.offheight < size:
        model.vis.global_.offwidth = model.vis.global_.offheight = size
    r = mujoco.Renderer(model, size, size)
    r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    track_renderer(r)
    return r


def render_frame(renderer: mujoco.Renderer, data: mujoco.MjData, camera: int | str) -> np.ndarray:
    """Render ``camera`` as an ``(H, W, 3)`` uint8 image, with garbage collection paused during the draw."""
    renderer.update_scene(data, camera=camera)
    enabled = gc.isenabled()
    gc.disable()
    try:
        return renderer.render()
    finally:
        if enabled:
            gc.enable()


class Renderers:
    """The renderers of one environment, one per image size, created on demand.

    :meth:`contexts` is what :class:`~wrappers.randomization.MujocoScene` needs to swap textures in every live
    GL context. Handing the scene this object (not a bound method of the env) avoids an env <-> scene reference
    cycle: cycles are freed by the garbage collector at arbitrary moments, possibly during another env's draw.
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        self.model = model
        self._by_size: dict[int, mujoco.Renderer] = {}

    def get(self, size: int) -> mujoco.Renderer:
        """The renderer for square ``size`` images (made with :func:`make_renderer` the first time)."""
        if size not in self._by_size:
            self._by_size[size] = make_renderer(self.model, size)
        return self._by_size[size]

    def contexts(self) -> list[tuple[mujoco.MjrContext, Callable[[], None]]]:
        """``(MjrContext, make_current)`` of every live renderer."""
        return [(r._mjr_context, r._gl_context.make_current) for r in self._by_size.values()]

    def close(self) -> None:
        """Free every GL context (each in itself: see :func:`close_renderer`)."""
        for r in self._by_size.values():
            close_renderer(r)
        self._by_size.clear()

    def __del__(self) -> None:
        # An environment dropped without close(): free our contexts properly before mujoco.Renderer.__del__
        # frees them in whichever context happens to be current (another environment's).
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser (e.g. EGL already torn down at exit)
            pass
