"""The compiled Franka scene's physics: episode set-up, named readouts and the end-effector controller."""

from __future__ import annotations

import mujoco
import numpy as np

from twist_envs.franka.controller import DifferentialIK, DiffIKConfig
from twist_envs.franka.scene.geometry import (
    ARM_JOINTS,
    DEFAULT_CAMERA,
    DEFAULT_WORKSPACE,
    EE_SITE,
    FINGER_JOINTS,
    FINGER_PAD_OFFSET,
    HOME_EE,
    TASKS,
    CameraPose,
    Workspace,
)
from twist_envs.franka.scene.mjcf import build_model
from twist_envs.franka.tasks import BLOCK_SIZE, GRIPPER_MAX_WIDTH, TABLE_HEIGHT
from twist_envs.rendering import Renderers, render_frame

PROFILE = "linear"
"""Shape of the joint-target ramp within a control step (``"linear"`` or ``"min_jerk"``)."""
PROFILE_CHUNK = 5
"""Physics steps between joint-target updates along the ramp."""
CONTROL_DT = 0.1
"""Seconds of simulated time per control step (10 Hz, the rate of a MoveIt/franky Cartesian loop): at 2 cm
per step the tool moves at most 0.2 m/s per axis."""
_HOME_SEED = np.array([0.0, -0.3, 0.0, -2.4, 0.0, 2.1, 0.785])
"""Initial guess for the home posture; ``home()`` refines it by IK so the tool points straight down."""


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
        base = m.body("robot_base").id
        robot_bodies = {b for b in range(m.nbody) if _is_descendant(m.body_parentid, b, base)}
        self._robot_geom = np.array([m.geom_bodyid[g] in robot_bodies for g in range(m.ngeom)])  # (ngeom,) bool
        self._force = np.zeros(6)
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

    def pose(
        self,
        joint_pos: np.ndarray,
        block_pos: np.ndarray,
        block_quat: np.ndarray,
        goal_pos: np.ndarray,
        gripper_width: float = 0.0,
    ) -> None:
        """Puts the scene in a stored configuration, at rest.

        Arm joints (7,), cube position (3,) and orientation (4,: w, x, y, z), goal marker (3,), and for lift the gap
        between the finger pads (m).

        For drawing a stored state again (:meth:`~twist_envs.franka.sim.FrankaSimEnv.render_states`), not for
        continuing its dynamics: velocities are zero and the servo targets are not touched.
        """
        d = self.data
        d.qvel[:] = 0.0
        d.qpos[self._arm_qpos] = joint_pos
        a = self._block_qpos
        d.qpos[a : a + 3] = block_pos
        d.qpos[a + 3 : a + 7] = block_quat
        d.mocap_pos[self._goal_mocap] = goal_pos
        if self._fingers is not None:
            # gripper_width() reads the pads' gap as the finger joints' sum less the pad offset; each finger half.
            d.qpos[self._fingers] = 0.5 * (float(gripper_width) + FINGER_PAD_OFFSET)
        # The whole forward pass, not only the kinematics: the cameras' and lights' poses (mj_camlight) are part
        # of it, and a scene never stepped has none yet.
        mujoco.mj_forward(self.model, d)

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

    def robot_contact_force(self) -> float:
        """Total normal contact force (N) on the robot's geoms right now.

        What a real Franka's Cartesian collision reflex reacts to (the real env's arm backends stop it above
        :data:`~twist_envs.franka.scene.geometry.REFLEX_FORCE_N`). The sim env reports it as
        ``info["contact_force"]``, so a policy that succeeds only by pressing the block into the table shows up
        before it reaches an arm.
        """
        m, d = self.model, self.data
        total = 0.0
        for i in range(d.ncon):
            c = d.contact[i]
            if self._robot_geom[c.geom1] or self._robot_geom[c.geom2]:
                mujoco.mj_contactForce(m, d, i, self._force)
                total += abs(self._force[0])
        return total

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


def _is_descendant(parent: np.ndarray, body: int, ancestor: int) -> bool:
    """Whether ``body`` is ``ancestor`` or lies below it in the kinematic tree (``parent``: ``body_parentid``)."""
    while body != 0:
        if body == ancestor:
            return True
        body = int(parent[body])
    return ancestor == 0
