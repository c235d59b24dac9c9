"""The Franka Panda block scene in MuJoCo, composed in code, and its physics readouts.

The Panda's MJCF and meshes come from the installed ``gymnasium-robotics`` package (nothing is copied
into this repository); this module rewrites them into one model with a table, a 4 cm cube on a free
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

from __future__ import annotations

import copy
import functools
import importlib.util
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import mujoco
import numpy as np

from twist_envs.franka.controller import DifferentialIK, DiffIKConfig
from twist_envs.franka.tasks import BLOCK_SIZE, GRIPPER_MAX_WIDTH, TABLE_HEIGHT
from twist_envs.rendering import Renderers, render_frame

ARM_JOINTS: tuple[str, ...] = tuple(f"robot:panda0_joint{i}" for i in range(1, 8))
"""Names of the seven arm joints in the gymnasium-robotics Panda model."""
FINGER_JOINTS: tuple[str, ...] = ("robot:panda0_finger_joint1", "robot:panda0_finger_joint2")
"""Names of the two finger slide joints (BlockLift only)."""
EE_SITE = "ee"
"""Site at the tool tip (peg tip, or between the fingertips); what ``ee_pos`` reads."""
FINGER_PAD_OFFSET = 0.017
"""Finger joint opening (sum of both slide joints) at which the pads of this model touch: the gap between
the pads is ``q1 + q2 - FINGER_PAD_OFFSET`` (measured by closing the hand on the 4 cm cube)."""
PEG_LENGTH = 0.12
"""Length of the pushing peg from the flange (m)."""
PEG_RADIUS = 0.008
"""Radius of the peg (m). Thin, so that it touches the cube low: a push above ~2.5 cm would tip it over."""
TASKS = ("push", "lift")


@dataclass(frozen=True)
class CameraPose:
    """A camera placed by position and look-at point (base frame, metres)."""

    pos: tuple[float, float, float]
    """Camera position."""
    lookat: tuple[float, float, float]
    """Point at the image centre."""
    fovy: float
    """Vertical field of view (degrees)."""

    def __post_init__(self) -> None:
        if len(self.pos) != 3 or len(self.lookat) != 3:
            raise ValueError(f"CameraPose: pos and lookat must be (x, y, z), got {self.pos}, {self.lookat}")
        if np.allclose(self.pos, self.lookat):
            raise ValueError(f"CameraPose: pos and lookat must differ, both are {self.pos}")
        if not 0.0 < self.fovy < 180.0:
            raise ValueError(f"CameraPose: fovy must be in (0, 180) degrees, got {self.fovy}")

    def xyaxes(self) -> tuple[float, ...]:
        """MJCF ``xyaxes`` (image right, image up) of a camera at ``pos`` looking at ``lookat``, z up."""
        fwd = np.asarray(self.lookat, float) - np.asarray(self.pos, float)
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        if np.linalg.norm(right) < 1e-6:  # looking straight down: pick image right = -y
            right = np.array([0.0, -1.0, 0.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, fwd)
        return tuple(float(v) for v in (*right, *up))


DEFAULT_CAMERA = CameraPose(pos=(1.2, 0.45, 0.9), lookat=(0.45, 0.0, 0.12), fovy=40.0)
"""Third-person view in front of the robot, to one side, like the paper's RealSense: block, goal and
tool all visible at 64 x 64."""


@dataclass(frozen=True)
class Workspace:
    """Axis-aligned box (base frame, metres) the end-effector must stay in."""

    low: tuple[float, float, float]
    """Lower corner (x, y, z)."""
    high: tuple[float, float, float]
    """Upper corner (x, y, z)."""

    def __post_init__(self) -> None:
        if not all(lo < hi for lo, hi in zip(self.low, self.high, strict=True)):
            raise ValueError(f"Workspace: low {self.low} must be < high {self.high} on every axis")

    def clip(self, pos: np.ndarray) -> np.ndarray:
        """Returns ``pos`` (3,) clipped into the box."""
        return np.clip(np.asarray(pos, dtype=np.float64), self.low, self.high)

    def contains(self, pos: np.ndarray, tol: float = 0.0) -> bool:
        """Whether ``pos`` (3,) lies in the box grown by ``tol`` on every side."""
        p = np.asarray(pos)
        return bool(np.all(p >= np.asarray(self.low) - tol) and np.all(p <= np.asarray(self.high) + tol))


DEFAULT_WORKSPACE = Workspace(
    low=(0.30, -0.25, TABLE_HEIGHT + 0.01),
    high=(0.70, 0.25, TABLE_HEIGHT + 0.30),
)
"""Above the table in front of the robot: the tool tip never goes lower than 1 cm above the tabletop."""

HOME_EE = np.array([0.45, 0.0, TABLE_HEIGHT + 0.20])
"""Tool-tip position after ``home()``."""
PROFILE = "linear"
"""Shape of the joint-target ramp within a control step (``"linear"`` or ``"min_jerk"``)."""
PROFILE_CHUNK = 5
"""Physics steps between joint-target updates along the ramp."""
CONTROL_DT = 0.1
"""Seconds of simulated time per control step (10 Hz, the rate of a MoveIt/franky Cartesian loop): at 2 cm
per step the tool moves at most 0.2 m/s per axis."""
_HOME_SEED = np.array([0.0, -0.3, 0.0, -2.4, 0.0, 2.1, 0.785])
"""Initial guess for the home posture; ``home()`` refines it by IK so the tool points straight down."""


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


class FrankaPhysics:
    """The compiled scene plus named readouts and the end-effector controller (dm_control ``Physics`` style).

    Args:
        task: ``"push"`` or ``"lift"``.
        camera: pose of the ``"policy"`` camera.
        workspace: box the tool tip is kept in.
        control_dt: seconds of simulated time per control step.
        ik: settings of the differential IK.
        extra_assets: extra MJCF asset elements, e.g. a texture bank (see :func:`build_xml`).
    """

    def __init__(
        self,
        task: str,
        camera: CameraPose = DEFAULT_CAMERA,
        workspace: Workspace = DEFAULT_WORKSPACE,
        control_dt: float = CONTROL_DT,
        ik: DiffIKConfig | None = None,
        extra_assets: str = "",
    ):
        if task not in TASKS:
            raise ValueError(f"FrankaPhysics: task must be one of {TASKS}, got {task!r}")
        if not isinstance(workspace, Workspace):
            raise ValueError(f"FrankaPhysics: workspace must be a Workspace, got {type(workspace).__name__}")
        self.task = task
        self.workspace = workspace
        self.model = build_model(task, camera, extra_assets)
        self.data = mujoco.MjData(self.model)
        self.n_substeps = max(1, round(control_dt / self.model.opt.timestep))
        m = self.model
        self._ee = m.site(EE_SITE).id
        self._arm_qpos = np.array([m.joint(j).qposadr[0] for j in ARM_JOINTS])
        self._arm_qvel = np.array([m.joint(j).dofadr[0] for j in ARM_JOINTS])
        self._fingers = np.array([m.joint(j).qposadr[0] for j in FINGER_JOINTS]) if task == "lift" else None
        self._block_qpos = m.joint("block_joint").qposadr[0]
        self._block_qvel = m.joint("block_joint").dofadr[0]
        self._goal_mocap = m.body("goal").mocapid[0]
        self._ik = DifferentialIK(m, EE_SITE, list(ARM_JOINTS), ik)
        self.renderers = Renderers(self.model)
        self._q_home, self._ee_mat = self._solve_home()
        self._gripper_target = GRIPPER_MAX_WIDTH
        self._set_profile(PROFILE, PROFILE_CHUNK)

    def _set_profile(self, kind: str, chunk: int) -> None:
        """Precomputes the joint-target phase s(t) in [0, 1] and its rate (1/s) per chunk of physics steps."""
        self._chunk = max(1, min(chunk, self.n_substeps))
        n_chunks = self.n_substeps // self._chunk
        duration = n_chunks * self._chunk * self.model.opt.timestep  # seconds
        t = (np.arange(n_chunks) + 0.5) / n_chunks  # chunk midpoints, as a fraction of the control period
        if kind == "linear":
            self._profile, self._profile_dot = t, np.full(n_chunks, 1.0 / duration)
        elif kind == "min_jerk":
            self._profile = t**3 * (10 - 15 * t + 6 * t**2)
            self._profile_dot = 30 * t**2 * (1 - t) ** 2 / duration
        else:
            raise ValueError(f"FrankaPhysics: profile must be 'linear' or 'min_jerk', got {kind!r}")
        arm = np.arange(len(ARM_JOINTS))
        self._kv_over_kp = -self.model.actuator_biasprm[arm, 2] / self.model.actuator_gainprm[arm, 0]  # (7,)

    def _solve_home(self) -> tuple[np.ndarray, np.ndarray]:
        """Home posture: tool tip at ``HOME_EE`` pointing straight down; also the orientation held by IK."""
        down = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])  # site z axis = world -z
        qpos = self.model.qpos0.copy()
        qpos[self._arm_qpos] = _HOME_SEED
        ik = DifferentialIK(self.model, EE_SITE, list(ARM_JOINTS), DiffIKConfig(iterations=200, nullspace_gain=0.05))
        q = ik.solve(qpos, HOME_EE, down, _HOME_SEED)
        return q, down

    # ---------------------------------------------------------------- episode set-up
    def home(self) -> None:
        """Resets the arm to the home posture at rest, gripper open, servos holding it."""
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._arm_qpos] = self._q_home
        self.data.ctrl[: len(ARM_JOINTS)] = self._q_home
        self._gripper_target = GRIPPER_MAX_WIDTH
        if self._fingers is not None:
            self.data.qpos[self._fingers] = 0.5 * GRIPPER_MAX_WIDTH
            self.data.ctrl[len(ARM_JOINTS) :] = 0.5 * GRIPPER_MAX_WIDTH
        mujoco.mj_forward(self.model, self.data)

    def place(self, block_xy: np.ndarray, goal_xy: np.ndarray, block_yaw: float = 0.0) -> None:
        """Puts the cube at rest on the table at ``block_xy`` and the goal marker at ``goal_xy`` (metres).

        For lift the goal point is ``lift_height`` above the block (the marker is invisible there).
        """
        a = self._block_qpos
        self.data.qpos[a : a + 3] = [block_xy[0], block_xy[1], TABLE_HEIGHT + 0.5 * BLOCK_SIZE]
        self.data.qpos[a + 3 : a + 7] = [np.cos(block_yaw / 2), 0.0, 0.0, np.sin(block_yaw / 2)]
        self.data.qvel[self._block_qvel : self._block_qvel + 6] = 0.0
        z = TABLE_HEIGHT if self.task == "push" else TABLE_HEIGHT + 0.5 * BLOCK_SIZE + 0.10
        self.data.mocap_pos[self._goal_mocap] = [goal_xy[0], goal_xy[1], z]
        mujoco.mj_forward(self.model, self.data)

    # ---------------------------------------------------------------- readouts
    def ee_pos(self) -> np.ndarray:
        """Tool-tip position (3,)."""
        return self.data.site_xpos[self._ee].copy()

    def block_pos(self) -> np.ndarray:
        """Cube centre (3,)."""
        return self.data.qpos[self._block_qpos : self._block_qpos + 3].copy()

    def block_quat(self) -> np.ndarray:
        """Cube orientation as a unit quaternion (w, x, y, z), shape (4,)."""
        return self.data.qpos[self._block_qpos + 3 : self._block_qpos + 7].copy()

    def block_vel(self) -> np.ndarray:
        """Cube linear and angular velocity (6,)."""
        return self.data.qvel[self._block_qvel : self._block_qvel + 6].copy()

    def goal_pos(self) -> np.ndarray:
        """Goal marker position (3,)."""
        return self.data.mocap_pos[self._goal_mocap].copy()

    def gripper_width(self) -> float:
        """Gap between the finger pads (m), as the real gripper reports it; 0 for the peg."""
        if self._fingers is None:
            return 0.0
        return float(max(0.0, np.sum(self.data.qpos[self._fingers]) - FINGER_PAD_OFFSET))

    def joint_pos(self) -> np.ndarray:
        """Arm joint angles (7,)."""
        return self.data.qpos[self._arm_qpos].copy()

    def joint_vel(self) -> np.ndarray:
        """Arm joint velocities (7,)."""
        return self.data.qvel[self._arm_qvel].copy()

    # ---------------------------------------------------------------- control
    def move_ee(self, delta_xyz: np.ndarray, gripper: float | None = None) -> None:
        """One control step: move the tool tip by ``delta_xyz`` (metres), clipped into the workspace.

        The target is ``workspace.clip(ee + delta)``; differential IK turns it into joint position targets
        that the joint servos track for ``control_dt`` seconds of physics.

        Args:
            delta_xyz: desired displacement (3,), already scaled (see ``tasks.scale_action``).
            gripper: target gap between the finger pads (m) for lift, in [0, ``GRIPPER_MAX_WIDTH``]
                (0 = close fully, squeezing what is between the fingers); ``None`` keeps the previous command.
        """
        target = self.workspace.clip(self.ee_pos() + np.asarray(delta_xyz, dtype=np.float64))
        q_start = self.joint_pos()
        dq = self._ik.solve(self.data.qpos, target, self._ee_mat, self._q_home) - q_start  # (7,)
        if self._fingers is not None:
            if gripper is not None:
                self._gripper_target = float(np.clip(gripper, 0.0, GRIPPER_MAX_WIDTH))
            # Each finger joint gets half of the joint opening that gives the requested pad gap.
            self.data.ctrl[len(ARM_JOINTS) :] = 0.5 * min(self._gripper_target + FINGER_PAD_OFFSET, GRIPPER_MAX_WIDTH)
        # A joint-space ramp to the IK solution over the control period, tracked by stiff servos. The velocity
        # feed-forward (kv/kp * qdot_des) cancels the lag of a PD servo that damps towards zero velocity, so
        # the tool ends the step where IK put it: no more than the commanded 2 cm from where it started.
        # With the linear ramp, repeated commands give a steady motion (smooth pushes, no stop-and-go).
        for s, s_dot in zip(self._profile, self._profile_dot, strict=True):
            self.data.ctrl[: len(ARM_JOINTS)] = q_start + (s + self._kv_over_kp * s_dot) * dq  # (7,)
            mujoco.mj_step(self.model, self.data, nstep=self._chunk)
        # Sites are computed in mj_step's first stage; refresh them so readouts show the final state.
        mujoco.mj_kinematics(self.model, self.data)

    # ---------------------------------------------------------------- rendering
    def renderer(self, size: int) -> mujoco.Renderer:
        """The (cached) offscreen renderer for square ``size`` images; shadows and reflections off."""
        return self.renderers.get(size)

    def render(self, size: int, camera: str = "policy") -> np.ndarray:
        """RGB image of shape (size, size, 3), uint8, from the named camera."""
        return render_frame(self.renderers.get(size), self.data, camera)

    def close(self) -> None:
        """Frees the renderers' GL contexts."""
        self.renderers.close()
