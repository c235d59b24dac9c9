"""Asymmetric actor-critic policy for stable-baselines3's SAC (Pinto et al., 2018).

The actor reads only the image (``"pixels"``), the twin critics read only the privileged simulator
state (``"state"``). Stable-baselines3 builds actor and critic feature extractors from ONE class
(``share_features_extractor=False`` gives separate *instances* of the same extractor), so the
asymmetry needs two pieces:

- :class:`KeySelectingExtractor`: a features extractor that reads one key of a ``Dict`` observation
  (a CNN for image keys, a flatten for vector keys) and ignores every other key;
- :class:`AsymmetricSACPolicy`: a ``SACPolicy`` whose ``make_actor`` / ``make_critic`` build that
  extractor with different keys.

Because the actor's extractor never indexes ``"state"``, the deployed actor runs on observations that
lack the key altogether (a real camera).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, NatureCNN
from stable_baselines3.sac.policies import Actor, SACPolicy
from torch import nn


class KeySelectingExtractor(BaseFeaturesExtractor):
    """Features of ONE key of a ``Dict`` observation; every other key is never read.

    Image keys (uint8, channel-first after SB3's ``VecTransposeImage``) go through SB3's Nature CNN
    to ``cnn_features_dim`` features; vector keys are flattened as they are (the SAC MLP heads
    come after this extractor).

    Args:
        observation_space: The full ``Dict`` observation space.
        key: The key this extractor reads (e.g. ``"pixels"`` for the actor, ``"state"`` for critics).
        cnn_features_dim: Output width of the CNN for image keys.
    """

    def __init__(self, observation_space: spaces.Dict, key: str, cnn_features_dim: int = 256) -> None:
        if not isinstance(observation_space, spaces.Dict) or key not in observation_space.spaces:
            raise ValueError(f"KeySelectingExtractor: key {key!r} is not in the observation space {observation_space}")
        sub_space = observation_space.spaces[key]
        if is_image_space(sub_space, check_channels=False):
            net: nn.Module = NatureCNN(sub_space, features_dim=cnn_features_dim)
            features_dim = cnn_features_dim
        else:
            net = nn.Flatten()
            features_dim = int(gym.spaces.utils.flatdim(sub_space))
        super().__init__(observation_space, features_dim)
        self.key = key
        self.net = net

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """Encode ``observations[self.key]`` only: ``(B, ...) -> (B, features_dim)``."""
        return self.net(observations[self.key])


class AsymmetricSACPolicy(SACPolicy):
    """SAC policy with an image-only actor and state-only twin critics (asymmetric actor-critic).

    Args:
        observation_space: ``Dict`` space holding at least ``actor_key`` and ``critic_key``.
        action_space: Continuous action space.
        lr_schedule: Learning-rate schedule (passed by SB3).
        actor_key: Observation key the actor reads (default ``"pixels"``).
        critic_key: Observation key the critics (and target critics) read (default ``"state"``).
        cnn_features_dim: Output width of the CNN used for image keys.
        **kwargs: Passed to :class:`stable_baselines3.sac.policies.SACPolicy` (``net_arch`` etc.).
            ``share_features_extractor`` is forced to ``False``: the actor and critics must not share.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Box,
        lr_schedule: Any,
        actor_key: str = "pixels",
        critic_key: str = "state",
        cnn_features_dim: int = 256,
        **kwargs: Any,
    ) -> None:
        # Set before SACPolicy.__init__, which calls _build -> make_actor / make_critic.
        self.actor_key = actor_key
        self.critic_key = critic_key
        self.cnn_features_dim = cnn_features_dim
        kwargs.pop("features_extractor_class", None)
        kwargs.pop("features_extractor_kwargs", None)
        kwargs["share_features_extractor"] = False
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            features_extractor_class=KeySelectingExtractor,
            features_extractor_kwargs={"key": actor_key, "cnn_features_dim": cnn_features_dim},
            **kwargs,
        )

    def _extractor(self, key: str) -> KeySelectingExtractor:
        return KeySelectingExtractor(self.observation_space, key=key, cnn_features_dim=self.cnn_features_dim)

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> Actor:
        """Build the actor on an extractor that reads only ``actor_key``."""
        return super().make_actor(self._extractor(self.actor_key))

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> ContinuousCritic:
        """Build a critic (or target critic) on an extractor that reads only ``critic_key``."""
        return super().make_critic(self._extractor(self.critic_key))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.pop("features_extractor_class", None)
        data.pop("features_extractor_kwargs", None)
        data.update(actor_key=self.actor_key, critic_key=self.critic_key, cnn_features_dim=self.cnn_features_dim)
        return data
