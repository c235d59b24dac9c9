"""Old home of the training loop and the Dreamer trainer; the names are re-exported for existing imports.

The loop lives in :mod:`twist_agents.training` and the Dreamer trainer in :mod:`twist_agents.dreamer.trainer`.
"""

from twist_agents.dreamer.trainer import DREAMER_VARIANTS, train_dreamer
from twist_agents.training.checkpoints import (
    CORRUPT_DIR,
    MIN_KEEP_CHECKPOINTS,
    SUPERSEDED_DIR,
    latest_checkpoint,
    load_newest_checkpoint,
)
from twist_agents.training.envs import make_env
from twist_agents.training.episodes import as_obs_dict, obs_space_of
from twist_agents.training.evaluate import episode_returns as evaluate
from twist_agents.training.loop import LOOP_PRESETS, LoopConfig, train

AGENT_VARIANTS = DREAMER_VARIANTS
"""The Dreamer variant table under its old name."""

__all__ = [
    "AGENT_VARIANTS",
    "CORRUPT_DIR",
    "LOOP_PRESETS",
    "MIN_KEEP_CHECKPOINTS",
    "SUPERSEDED_DIR",
    "LoopConfig",
    "as_obs_dict",
    "evaluate",
    "latest_checkpoint",
    "load_newest_checkpoint",
    "make_env",
    "obs_space_of",
    "train",
    "train_dreamer",
]
