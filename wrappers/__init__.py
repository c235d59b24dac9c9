"""Reusable Gymnasium wrappers: paired privileged/pixel observations and domain randomisation as data.

They work on any MuJoCo-based environment: ours, Gymnasium's (``gym.make("HalfCheetah-v5")``) and dm_control's.
Modules: :mod:`.privileged` (paired observations), :mod:`.randomization` (terms, ``Randomizer``,
``DomainRandomization``), :mod:`.scene` (the ``MujocoScene`` adapter the terms write into, ``scene_of``),
:mod:`.textures` (texture sources and banks).
"""

from wrappers.privileged import OBS_MODES, PrivilegedObservation
from wrappers.randomization import (
    DomainRandomization,
    Randomizer,
    Term,
    appearance_terms_for,
    background,
    body_mass,
    camera_pose,
    default_appearance_terms,
    floor_texture,
    friction,
    light_brightness,
    material_colors,
)
from wrappers.scene import MujocoScene, scene_of
from wrappers.textures import FolderTextures, ProceduralTextures, TextureBank, TextureSource

__all__ = [
    "OBS_MODES",
    "DomainRandomization",
    "FolderTextures",
    "MujocoScene",
    "PrivilegedObservation",
    "ProceduralTextures",
    "Randomizer",
    "Term",
    "TextureBank",
    "TextureSource",
    "appearance_terms_for",
    "background",
    "body_mass",
    "camera_pose",
    "default_appearance_terms",
    "floor_texture",
    "friction",
    "light_brightness",
    "material_colors",
    "scene_of",
]
