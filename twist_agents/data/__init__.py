"""On-disk episode storage and sequence sampling shared by every agent (see :mod:`.store` for the format)."""

from twist_agents.data.sampler import SequenceSampler
from twist_agents.data.store import EPISODE_KEYS, EpisodeStore, load_episode, move_aside, save_episode

__all__ = ["EPISODE_KEYS", "EpisodeStore", "SequenceSampler", "load_episode", "move_aside", "save_episode"]
