"""Asymmetric SAC (image actor, state critics) as a thin adapter over stable-baselines3."""

from twist_agents.sac.agent import SAC_PRESETS, AsymmetricSACAgent, AsymmetricSACConfig, sac_preset
from twist_agents.sac.policy import AsymmetricSACPolicy, KeySelectingExtractor

__all__ = [
    "SAC_PRESETS",
    "AsymmetricSACAgent",
    "AsymmetricSACConfig",
    "AsymmetricSACPolicy",
    "KeySelectingExtractor",
    "sac_preset",
]
