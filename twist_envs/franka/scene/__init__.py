"""The Franka Panda block scene in MuJoCo, composed in code, and its physics readouts.

The scene is split by concern; this package re-exports every public name, so ``twist_envs.franka.scene``
imports as before:

- :mod:`.geometry`: element names, the peg's size, :class:`CameraPose`, :class:`Workspace`, the home pose;
- :mod:`.mjcf`: the MJCF composed from ``gymnasium-robotics``' Panda (:func:`build_xml`, :func:`build_model`);
- :mod:`.physics`: :class:`FrankaPhysics`, the compiled model with readouts and the end-effector controller.

The Panda's MJCF and meshes come from the installed ``gymnasium-robotics`` package (nothing is copied
into this repository); the scene rewrites them into one model with a table, a 4 cm cube on a free
joint, a red goal marker (visual only), lights and a third-person camera named ``"policy"``.

- ``task="push"``: the hand is replaced by a peg, as in the paper (the hand hid the block from the camera).
- ``task="lift"``: the Franka hand with its two fingers.

World frame = robot base frame; the tabletop is the plane ``z = TABLE_HEIGHT``. Every element a domain
randomisation term may target has a name: materials ``robot``, ``robot_dark``, ``table``, ``floor``,
``block``, ``goal``; textures ``table_tex``, ``floor_tex``, ``skybox``; geoms ``table_top``, ``floor``,
``block``; body ``block``; lights ``key_light``, ``fill_light``; camera ``policy``.

Example:
    >>> import numpy as np
    >>> p = FrankaPhysics("push")
    >>> p.home(); p.place(np.array([0.5, 0.0]), np.array([0.6, 0.1]))
    >>> start = p.ee_pos()
    >>> p.move_ee(np.array([0.02, 0.0, 0.0]))
    >>> bool(0.005 < p.ee_pos()[0] - start[0] <= 0.021)
    True
    >>> p.render(64).shape
    (64, 64, 3)
    >>> p.close()
"""

from twist_envs.franka.scene.geometry import (
    ARM_JOINTS,
    DEFAULT_CAMERA,
    DEFAULT_WORKSPACE,
    EE_SITE,
    FINGER_JOINTS,
    FINGER_PAD_OFFSET,
    HOME_EE,
    PEG_LENGTH,
    PEG_RADIUS,
    REFLEX_FORCE_N,
    TASKS,
    CameraPose,
    Workspace,
)
from twist_envs.franka.scene.mjcf import build_model, build_xml, franka_asset_dir
from twist_envs.franka.scene.physics import CONTROL_DT, PROFILE, PROFILE_CHUNK, FrankaPhysics

__all__ = [
    "ARM_JOINTS",
    "CONTROL_DT",
    "DEFAULT_CAMERA",
    "DEFAULT_WORKSPACE",
    "EE_SITE",
    "FINGER_JOINTS",
    "FINGER_PAD_OFFSET",
    "HOME_EE",
    "PEG_LENGTH",
    "PEG_RADIUS",
    "PROFILE",
    "PROFILE_CHUNK",
    "REFLEX_FORCE_N",
    "TASKS",
    "CameraPose",
    "FrankaPhysics",
    "Workspace",
    "build_model",
    "build_xml",
    "franka_asset_dir",
]
