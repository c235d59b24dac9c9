"""On-disk episode storage and sequence sampling shared by every agent (see :mod:`.store` for the format).

:mod:`.atomic` holds the one atomic file / folder write that every layer above uses.
"""

from twist_agents.data.atomic import atomic_directory, atomic_write, atomic_write_text
from twist_agents.data.sampler import SequenceSampler
from twist_agents.data.store import EPISODE_KEYS, EpisodeStore, load_episode, move_aside, save_episode

__all__ = [
    "EPISODE_KEYS",
    "EpisodeStore",
    "SequenceSampler",
    "atomic_directory",
    "atomic_write",
    "atomic_write_text",
    "load_episode",
    "move_aside",
    "save_episode",
]
