"""TWIST environments. Importing this package registers every id below with Gymnasium.

Sim ids take ``obs_mode`` (``"paired"``/``"state"``/``"pixels"``), ``randomization`` (``"train"``/``"test"``/
``"none"``), ``image_size`` and ``camera``; real ids take the hardware kwargs of
:class:`twist_envs.franka.real.FrankaRealEnv`.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering unless the user chose otherwise

from gymnasium.envs.registration import register, registry

_DISTRACTING = "twist_envs.distracting.env:make"


def _register(env_id: str, entry_point: str, max_episode_steps: int, **kwargs: object) -> None:
    if env_id not in registry:  # importing twice (e.g. in a reloaded test module) must not warn
        register(id=env_id, entry_point=entry_point, max_episode_steps=max_episode_steps, kwargs=kwargs)


# One flat list. Distracting Control: 1000 control steps / action_repeat 2 = 500 env steps.
_register("TWIST/CupCatch-Distracting-v0", _DISTRACTING, 500, task="CupCatch")
_register("TWIST/CartpoleBalance-Distracting-v0", _DISTRACTING, 500, task="CartpoleBalance")
_register("TWIST/CheetahRun-Distracting-v0", _DISTRACTING, 500, task="CheetahRun")
_register("TWIST/HopperStand-Distracting-v0", _DISTRACTING, 500, task="HopperStand")
_register("TWIST/WalkerWalk-Distracting-v0", _DISTRACTING, 500, task="WalkerWalk")
_register("TWIST/FingerTurnEasy-Distracting-v0", _DISTRACTING, 500, task="FingerTurnEasy")
# Franka Panda block tasks (paper Sec. VI-C): 150-step episodes, in simulation and on the real robot.
_register("TWIST/BlockPush-Sim-v0", "twist_envs.franka.sim:FrankaSimEnv", 150, task="push")
_register("TWIST/BlockLift-Sim-v0", "twist_envs.franka.sim:FrankaSimEnv", 150, task="lift")
_register("TWIST/BlockPush-Real-v0", "twist_envs.franka.real:FrankaRealEnv", 150, task="push")
_register("TWIST/BlockLift-Real-v0", "twist_envs.franka.real:FrankaRealEnv", 150, task="lift")

SIM_IDS: tuple[str, ...] = (
    "TWIST/CupCatch-Distracting-v0",
    "TWIST/CartpoleBalance-Distracting-v0",
    "TWIST/CheetahRun-Distracting-v0",
    "TWIST/HopperStand-Distracting-v0",
    "TWIST/WalkerWalk-Distracting-v0",
    "TWIST/FingerTurnEasy-Distracting-v0",
    "TWIST/BlockPush-Sim-v0",
    "TWIST/BlockLift-Sim-v0",
)
"""Every simulated id (the ones ``check_env`` is swept over)."""

DISTRACTING_IDS: tuple[str, ...] = SIM_IDS[:6]
REAL_IDS: tuple[str, ...] = ("TWIST/BlockPush-Real-v0", "TWIST/BlockLift-Real-v0")

__all__ = ["DISTRACTING_IDS", "REAL_IDS", "SIM_IDS"]
