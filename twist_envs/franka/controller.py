"""Differential inverse kinematics (damped least squares) for the Franka arm.

The policy commands an end-effector *position*; the arm has seven joints. Each control step solves for
joint position targets that put the tool tip at the commanded point while holding the tool orientation
(pointing down, fixed yaw) and, in the null space, staying close to the home posture:

    dq = J^T (J J^T + lambda^2 I)^-1 e  +  (I - J^+ J) k (q_home - q)

with ``e = [p* - p; w * rot_err]`` (6,) and ``J`` the (6, 7) site Jacobian. A few iterations on a scratch
``MjData`` make the solution exact enough for 2 cm steps; the joint position servos then track it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass(frozen=True)
class DiffIKConfig:
    """Settings of the damped-least-squares solver."""

    damping: float = 0.05
    """lambda in the DLS step; larger = smoother near singularities, slower convergence."""
    orientation_weight: float = 0.5
    """Weight of the orientation error (rad) relative to the position error (m)."""
    nullspace_gain: float = 0.2
    """Pull towards the home posture inside the null space of the task Jacobian."""
    iterations: int = 3
    """Gauss-Newton iterations per control step."""
    max_joint_step: float = 0.2
    """Largest joint change per iteration (rad), a guard against jumps near singularities."""


class DifferentialIK:
    """Damped-least-squares position + orientation IK for one site on a chain of hinge joints.

    Args:
        model: the compiled model.
        site: name of the site to place (the tool tip).
        joints: names of the controlled hinge joints (their dofs must be consecutive in ``qvel``).
        config: solver settings.
    """

    def __init__(self, model: mujoco.MjModel, site: str, joints: list[str], config: DiffIKConfig | None = None):
        self.model = model
        self.config = config or DiffIKConfig()
        self.site_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
        if self.site_id < 0:
            raise ValueError(f"DifferentialIK: site {site!r} not in the model")
        ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in joints]
        if min(ids) < 0:
            raise ValueError(f"DifferentialIK: joints {joints} not all in the model")
        self.qpos_idx = np.array([model.jnt_qposadr[i] for i in ids])
        self.dof_idx = np.array([model.jnt_dofadr[i] for i in ids])
        self.limits = model.jnt_range[ids].copy()  # (n, 2)
        self._scratch = mujoco.MjData(model)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def solve(
        self,
        qpos: np.ndarray,
        target_pos: np.ndarray,
        target_mat: np.ndarray,
        q_home: np.ndarray,
    ) -> np.ndarray:
        """Joint targets that bring the site to ``target_pos`` with orientation ``target_mat``.

        Args:
            qpos: the full current ``qpos`` (nq,); only the controlled joints are changed.
            target_pos: desired site position (3,).
            target_mat: desired site rotation matrix (3, 3).
            q_home: posture the null-space term pulls towards (n,).

        Returns:
            Joint position targets for the controlled joints, shape (n,), within their limits.
        """
        cfg = self.config
        d = self._scratch
        d.qpos[:] = qpos
        q = qpos[self.qpos_idx].copy()
        n = len(q)
        err = np.zeros(6)
        eye = np.eye(n)
        for it in range(cfg.iterations):
            d.qpos[self.qpos_idx] = q
            mujoco.mj_kinematics(self.model, d)
            mujoco.mj_comPos(self.model, d)
            err[:3] = target_pos - d.site_xpos[self.site_id]
            err[3:] = cfg.orientation_weight * _rotation_error(target_mat, d.site_xmat[self.site_id].reshape(3, 3))
            mujoco.mj_jacSite(self.model, d, self._jacp, self._jacr, self.site_id)
            jac = np.vstack([self._jacp[:, self.dof_idx], cfg.orientation_weight * self._jacr[:, self.dof_idx]])
            jjt = jac @ jac.T  # (6, 6)
            dq = jac.T @ np.linalg.solve(jjt + cfg.damping**2 * np.eye(6), err)  # (n,)
            if it == 0:
                # Null-space posture term, once per solve. The projector uses the exact pseudo-inverse;
                # a damped one leaks the posture pull into the task space (a bias of millimetres per step).
                proj = eye - jac.T @ np.linalg.solve(jjt + 1e-9 * np.eye(6), jac)  # (n, n)
                dq += proj @ (cfg.nullspace_gain * (q_home - q))
            dq = np.clip(dq, -cfg.max_joint_step, cfg.max_joint_step)
            q = np.clip(q + dq, self.limits[:, 0], self.limits[:, 1])
        return q


def _rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Axis-angle vector (3,) rotating ``current`` onto ``target``, in the world frame."""
    r = target @ current.T
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, r.reshape(-1))
    vel = np.zeros(3)
    mujoco.mju_quat2Vel(vel, quat, 1.0)
    return vel
