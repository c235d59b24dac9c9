"""The scene's MJCF, composed in code from the Panda model that ``gymnasium-robotics`` ships.

The Panda's MJCF and meshes come from the installed package (nothing is copied into this repository);
:func:`build_xml` rewrites them into one model with a table, a 4 cm cube on a free joint, a red goal marker
(visual only), lights and a third-person camera named ``"policy"``, plus the joint servos' gains.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import os
import xml.etree.ElementTree as ET

import mujoco
import numpy as np

from twist_envs.franka.scene.geometry import (
    ARM_JOINTS,
    DEFAULT_CAMERA,
    EE_SITE,
    FINGER_JOINTS,
    PEG_LENGTH,
    PEG_RADIUS,
    TASKS,
    CameraPose,
)
from twist_envs.franka.tasks import BLOCK_SIZE, TABLE_HEIGHT


def franka_asset_dir() -> str:
    """Directory of the Panda MJCF + meshes inside the installed ``gymnasium-robotics`` package."""
    spec = importlib.util.find_spec("gymnasium_robotics")
    if spec is None or spec.origin is None:
        raise ImportError(
            "gymnasium-robotics is not installed; it ships the Panda model: pip install gymnasium-robotics"
        )
    path = os.path.join(os.path.dirname(spec.origin), "envs", "assets", "kitchen_franka", "franka_assets")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Panda assets not found at {path}; reinstall gymnasium-robotics==1.4.2")
    return path


@functools.cache
def _franka_xml_parts() -> tuple[ET.Element, ET.Element, ET.Element]:
    """(asset, default, robot body) elements parsed once from the package's MJCF."""
    root = franka_asset_dir()
    assets = ET.parse(os.path.join(root, "assets.xml")).getroot()
    chain = ET.parse(os.path.join(root, "chain.xml")).getroot()
    return assets.find("asset"), assets.find("default"), chain.find("body")


def _robot_elements(task: str, detailed_meshes: bool) -> tuple[ET.Element, ET.Element, ET.Element]:
    """Panda assets, defaults and body tree, rewritten for our scene."""
    asset, default, body = (copy.deepcopy(e) for e in _franka_xml_parts())
    for d in default.iter("default"):
        geom = d.find("geom")
        if d.get("class") == "panda_viz" and geom is not None:
            geom.attrib.pop("rgba", None)
            geom.set("material", "robot")
        if d.get("class") in ("panda_arm", "panda_forearm"):
            # The package's passive damping (100) makes the arm lag far behind 2 cm steps; the servos damp.
            d.find("joint").set("damping", "1")
            d.find("joint").set("armature", f"{_ARM_ARMATURE}")
        if d.get("class") == "panda_finger":  # the package's damping 100 / armature 5 take ~1 s to close
            d.find("joint").set("damping", "1")
            d.find("joint").set("armature", "0.05")
    for b in body.iter("body"):
        b.set("gravcomp", "1")  # the real Panda compensates gravity in its controller
        for g in b.findall("geom"):
            mesh = g.get("mesh", "")
            if not detailed_meshes and g.get("class") == "panda_viz" and mesh.endswith("_viz") and mesh != "finger_viz":
                # The visual STLs have ~130k triangles in all, which a CPU rasteriser draws at ~20 frames/s;
                # the collision meshes (200-300 triangles each) look the same at 64 x 64 pixels.
                mesh = mesh.replace("_viz", "_col")
                g.set("mesh", mesh)
            # Only the wrist and hand touch the scene; skipping the other link meshes saves collision checks.
            if g.get("class") == "panda_col" and mesh not in ("link7_col", "hand_col"):
                g.set("contype", "0")
                g.set("conaffinity", "0")
            if mesh in ("link7_viz", "link7_col") and g.get("class") == "panda_viz":
                g.set("material", "robot_dark")
    if not detailed_meshes:  # unused: skip parsing ~6 MB of STL
        for m in list(asset):
            if m.get("name", "").endswith("_viz") and m.get("name") != "finger_viz":
                asset.remove(m)
    link7 = next(b for b in body.iter("body") if b.get("name") == "panda0_link7")
    for s in link7.findall("site"):
        link7.remove(s)
    if task == "push":
        for child in list(link7):
            if child.tag == "body" or child.get("mesh", "").startswith("hand_"):
                link7.remove(child)
        # A 3D-printed peg in place of the hand (paper, Sec. VI-C), about as heavy as the hand it replaces.
        ET.SubElement(
            link7,
            "geom",
            name="peg_mount",
            type="cylinder",
            size="0.035 0.01",
            pos="0 0 0.117",
            material="robot_dark",
            mass="0.4",
            contype="0",
            conaffinity="0",
        )
        ET.SubElement(
            link7,
            "geom",
            name="peg",
            type="capsule",
            fromto=f"0 0 0.127 0 0 {0.107 + PEG_LENGTH - PEG_RADIUS:.4f}",
            size=f"{PEG_RADIUS}",
            material="robot_dark",
            mass="0.3",
            contype="1",
            conaffinity="1",
            condim="3",
        )
        ET.SubElement(
            link7,
            "site",
            name=EE_SITE,
            pos=f"0 0 {0.107 + PEG_LENGTH:.4f}",
            size="0.005",
            rgba="0 1 0 0",
            group="4",
        )
    else:
        # Between the fingertips: the lowest finger capsule ends 0.26 m from link 7's origin.
        ET.SubElement(link7, "site", name=EE_SITE, pos="0 0 0.255", size="0.005", rgba="0 1 0 0", group="4")
        for g in link7.iter("geom"):
            if g.get("mesh", "").startswith("hand_") and g.get("class") == "panda_viz":
                g.set("material", "robot_dark")
    return asset, default, body


_ARM_KP = np.array([1e5, 1e5, 1e5, 1e5, 5e4, 5e4, 5e4])
"""Joint servo stiffness (N m / rad). Stiff like the real Panda's internal joint controller, so that a
commanded 2 cm step is tracked to about a millimetre within one control period."""
_ARM_ARMATURE = 1.0
"""Reflected rotor inertia added to each arm joint (kg m^2); it keeps the stiff servos stable and makes
the joint-space inertia diagonal-dominant, so independent joint servos move the tool along straight lines."""
_HOME_INERTIA = np.array([0.885, 1.411, 0.955, 0.996, 0.122, 0.143, 0.103])
"""Diagonal of the arm's joint-space inertia at home (kg m^2, from ``mj_fullM``), without armature."""


def _arm_kv() -> np.ndarray:
    """Critically damped servo gains at the home posture: kv = 2 sqrt(kp (I + armature))."""
    return 2.0 * np.sqrt(_ARM_KP * (_HOME_INERTIA + _ARM_ARMATURE))


def build_xml(
    task: str, camera: CameraPose = DEFAULT_CAMERA, extra_assets: str = "", detailed_meshes: bool = False
) -> str:
    """MJCF text of the scene (mesh paths absolute, so it can be compiled from a string).

    Args:
        task: ``"push"`` (peg) or ``"lift"`` (two-finger hand).
        camera: pose of the ``"policy"`` camera.
        extra_assets: MJCF ``<texture>``/``<material>`` elements appended to the assets (e.g. the
            placeholder textures of a domain-randomisation texture bank).
        detailed_meshes: draw the robot with its detailed visual meshes (slow on a CPU; for figures)
            instead of the low-polygon collision meshes.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    asset, default, body = _robot_elements(task, detailed_meshes)
    root = ET.Element("mujoco", model=f"twist_franka_{task}")
    ET.SubElement(
        root,
        "compiler",
        angle="radian",
        meshdir=os.path.join(franka_asset_dir(), "meshes"),
        autolimits="true",
    )
    ET.SubElement(root, "option", timestep="0.002", integrator="implicitfast", cone="elliptic", impratio="5")
    visual = ET.SubElement(root, "visual")
    ET.SubElement(visual, "headlight", ambient="0.25 0.25 0.25", diffuse="0.3 0.3 0.3", specular="0 0 0")
    # No shadows, no multisampling: at 64 px this draws 2.5x faster on a CPU rasteriser (~100 -> ~250 frames/s
    # measured) and block, goal marker and peg stay clearly visible (only edges get jaggier).
    ET.SubElement(visual, "quality", shadowsize="0", offsamples="0")
    ET.SubElement(visual, "global", offwidth="512", offheight="512")
    asset.extend(
        [
            ET.Element(
                "texture",
                name="skybox",
                type="skybox",
                builtin="gradient",
                rgb1="0.55 0.6 0.65",
                rgb2="0.15 0.17 0.2",
                width="128",
                height="128",
            ),
            ET.Element(
                "texture",
                name="table_tex",
                type="2d",
                builtin="flat",
                mark="random",
                random="0.03",
                rgb1="0.55 0.42 0.3",
                markrgb="0.45 0.33 0.22",
                width="128",
                height="128",
            ),
            ET.Element(
                "texture",
                name="floor_tex",
                type="2d",
                builtin="checker",
                rgb1="0.3 0.3 0.32",
                rgb2="0.22 0.22 0.24",
                width="128",
                height="128",
            ),
            ET.Element("material", name="robot", rgba="0.92 0.92 0.9 1", specular="0.3", shininess="0.3"),
            ET.Element("material", name="robot_dark", rgba="0.25 0.25 0.27 1", specular="0.3"),
            ET.Element("material", name="table", texture="table_tex", texrepeat="2 2", rgba="1 1 1 1"),
            ET.Element("material", name="floor", texture="floor_tex", texrepeat="4 4", texuniform="true"),
            ET.Element("material", name="block", rgba="0.95 0.8 0.1 1", specular="0.2"),
            ET.Element("material", name="goal", rgba="0.9 0.05 0.05 1", emission="0.3"),
        ]
    )
    if extra_assets:
        asset.extend(ET.fromstring(f"<asset>{extra_assets}</asset>"))
    root.append(asset)
    root.append(default)
    world = ET.SubElement(root, "worldbody")
    ET.SubElement(
        world,
        "light",
        name="key_light",
        pos="0.6 0.6 1.6",
        dir="-0.1 -0.4 -1",
        directional="true",
        diffuse="0.6 0.6 0.6",
        specular="0.1 0.1 0.1",
        castshadow="false",
    )
    ET.SubElement(
        world,
        "light",
        name="fill_light",
        pos="1.2 -0.6 1.2",
        dir="-0.6 0.4 -0.8",
        directional="true",
        diffuse="0.3 0.3 0.3",
        specular="0 0 0",
        castshadow="false",
    )
    ET.SubElement(
        world,
        "geom",
        name="floor",
        type="plane",
        size="3 3 0.1",
        pos=f"0 0 {TABLE_HEIGHT - 0.75}",
        material="floor",
        contype="0",
        conaffinity="0",
    )
    ET.SubElement(
        world,
        "geom",
        name="table_top",
        type="box",
        size="0.55 0.6 0.025",
        pos=f"0.35 0 {TABLE_HEIGHT - 0.025}",
        material="table",
        friction="0.4 0.005 0.0001",
    )
    ET.SubElement(
        world,
        "camera",
        name="policy",
        pos=" ".join(f"{v:.4f}" for v in camera.pos),
        xyaxes=" ".join(f"{v:.5f}" for v in camera.xyaxes()),
        fovy=f"{camera.fovy:.3f}",
    )
    h = 0.5 * BLOCK_SIZE
    block = ET.SubElement(world, "body", name="block", pos=f"0.5 0 {TABLE_HEIGHT + h}")
    ET.SubElement(block, "freejoint", name="block_joint")
    ET.SubElement(
        block,
        "geom",
        name="block",
        type="box",
        size=f"{h} {h} {h}",
        mass="0.1",
        material="block",
        friction="0.5 0.005 0.0001",
        condim="4",
        solref="0.01 1",
    )
    goal = ET.SubElement(world, "body", name="goal", mocap="true", pos=f"0.6 0.1 {TABLE_HEIGHT}")
    if task == "push":  # the lift goal is a height, not a marker
        ET.SubElement(
            goal,
            "geom",
            name="goal",
            type="cylinder",
            size="0.03 0.0015",
            material="goal",
            contype="0",
            conaffinity="0",
            mass="0",
        )
    base = ET.SubElement(world, "body", name="robot_base", pos=f"0 0 {TABLE_HEIGHT}")
    base.append(body)
    act = ET.SubElement(root, "actuator")
    for j, kp, kv in zip(ARM_JOINTS, _ARM_KP, _arm_kv(), strict=True):
        ET.SubElement(act, "position", name=j.split(":")[1], joint=j, kp=f"{kp:.0f}", kv=f"{kv:.1f}", inheritrange="1")
    if task == "lift":
        for j in FINGER_JOINTS:
            ET.SubElement(
                act,
                "position",
                name=j.split(":")[1],
                joint=j,
                kp="300",
                dampratio="1.0",
                forcerange="-20 20",
                ctrlrange="0 0.04",
            )
    return ET.tostring(root, encoding="unicode")


def build_model(
    task: str, camera: CameraPose = DEFAULT_CAMERA, extra_assets: str = "", detailed_meshes: bool = False
) -> mujoco.MjModel:
    """Compiles the scene for ``task`` (``"push"`` or ``"lift"``) with the policy camera at ``camera``.

    Args:
        task: ``"push"`` or ``"lift"``.
        camera: pose of the ``"policy"`` camera.
        extra_assets: extra MJCF asset elements (see :func:`build_xml`).
        detailed_meshes: draw the robot with its detailed visual meshes (see :func:`build_xml`).
    """
    return mujoco.MjModel.from_xml_string(build_xml(task, camera, extra_assets, detailed_meshes))
