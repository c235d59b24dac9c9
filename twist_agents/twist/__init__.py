"""TWIST: teacher-student world-model distillation (Eq. 3, Eq. 4, Algorithm 1) and the student agent.

Public API::

    distillation_loss(teacher_wm, teacher_actor, student, batch, config) -> DistillTerms   # Eq. 3 + Eq. 4
    StudentWorldModel.for_teacher(teacher_wm, {"pixels": (64, 64, 3)})                    # no decoder
    TwistAgent(teacher: DreamerAgent, {"pixels": (64, 64, 3)}, distill_config("cpu"))    # Agent protocol
    train_twist(env_id, run_dir, preset, seed, ...)    # teacher -> distil -> evaluate (twist_agents.twist.pipeline)
"""

from twist_agents.twist.agent import TwistAgent
from twist_agents.twist.config import DistillConfig, distill_config
from twist_agents.twist.losses import DistillTerms, distillation_loss, teacher_rollout
from twist_agents.twist.student import StudentWorldModel

__all__ = [
    "DistillConfig",
    "DistillTerms",
    "StudentWorldModel",
    "TwistAgent",
    "distill_config",
    "distillation_loss",
    "teacher_rollout",
]
