"""The six Distracting-Control tasks of the paper's Table I, on dm_control, with paired observations."""

from twist_envs.distracting.env import TASKS, BankSizes, DistractingControlEnv, distracting_terms

__all__ = ["TASKS", "BankSizes", "DistractingControlEnv", "distracting_terms"]
