"""The Dreamer world model: encoder by observation key, RSSM, decoder, reward and continue heads.

The loss is DreamerV3's (Eq. 2 of the TWIST paper with KL balancing)::

    L = sum_k recon_k + reward_nll + cont_nll
        + dyn_scale * max(free, KL[sg(q) || p]) + rep_scale * max(free, KL[q || sg(p)])

averaged over batch and time; ``free`` is the free-bits threshold on the KL summed over latents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from twist_agents.dreamer.allocator import tune_malloc
from twist_agents.dreamer.config import WorldModelConfig
from twist_agents.dreamer.networks import MLP, MultiDecoder, MultiEncoder, TwoHot, normalize_image
from twist_agents.dreamer.rssm import RSSM, State, kl_categorical

BATCH_KEYS = ("action", "reward", "is_first", "is_last", "is_terminal")
"""Non-observation keys of a training batch (see :mod:`twist_agents.data.store`)."""


def obs_shapes_of(obs_space: gym.spaces.Space | Mapping[str, Sequence[int]]) -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of a Gymnasium ``Dict`` space (a ``Box`` counts as key ``"state"``) or a mapping."""
    if isinstance(obs_space, gym.spaces.Dict):
        return {k: tuple(s.shape) for k, s in obs_space.spaces.items()}  # type: ignore[misc]
    if isinstance(obs_space, gym.spaces.Box):
        return {"state": tuple(obs_space.shape)}
    return {k: tuple(v) for k, v in obs_space.items()}  # type: ignore[union-attr]


def action_dim_of(action_space: gym.spaces.Space | int) -> int:
    """Size of the action vector; only continuous ``Box`` actions in [-1, 1] are supported."""
    if isinstance(action_space, int):
        return action_space
    if not isinstance(action_space, gym.spaces.Box):
        raise ValueError(f"WorldModel: only Box action spaces are supported, got {action_space}")
    return int(np.prod(action_space.shape))


class WorldModel(nn.Module):
    """Dreamer world model configured by the observation keys it encodes and decodes.

    Attributes:
        encoder: :class:`~twist_agents.dreamer.networks.MultiEncoder`; ``encoder(obs) -> embed (..., E)``
            for a dict of ``(..., *shape)`` tensors (uint8 images are fine).
        rssm: :class:`~twist_agents.dreamer.rssm.RSSM`.
        heads: ``nn.ModuleDict`` with ``"decoder"`` (:class:`MultiDecoder`), ``"reward"`` (two-hot
            logits MLP) and ``"cont"`` (Bernoulli logit MLP), all on ``rssm.get_feat(state)``.

    Args:
        config: world-model config (``encode`` / ``decode`` keys decide the variant).
        obs_space: the env's observation space (``Dict``) or ``{key: shape}``.
        action_space: the env's ``Box`` action space, or the action size.
    """

    def __init__(
        self,
        config: WorldModelConfig,
        obs_space: gym.spaces.Space | Mapping[str, Sequence[int]],
        action_space: gym.spaces.Space | int,
    ) -> None:
        super().__init__()
        tune_malloc()  # before the first update's large allocations (see twist_agents.dreamer.allocator)
        self.config = config
        self.obs_shapes = obs_shapes_of(obs_space)
        self.action_dim = action_dim_of(action_space)
        floor = config.standardize_floor if config.standardize_vectors else None
        self.encoder = MultiEncoder(self.obs_shapes, config.encode, config.encoder, floor)
        self.rssm = RSSM(config.rssm, self.action_dim, self.encoder.out_dim)
        feat = self.rssm.feat_dim
        rh, ch = config.reward_head, config.cont_head
        self.heads = nn.ModuleDict(
            {
                "decoder": MultiDecoder(feat, self.obs_shapes, config.decode, config.decoder, floor),
                "reward": MLP(feat, rh.bins, rh.layers, rh.units, rh.act, zero_init_output=True),
                "cont": MLP(feat, 1, ch.layers, ch.units, ch.act),
            }
        )

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return next(self.parameters()).device

    def to_torch(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Convert a numpy batch ``(B, T, ...)`` to tensors on :attr:`device` (images stay uint8)."""
        out = {}
        for k, v in batch.items():
            t = torch.as_tensor(np.asarray(v), device=self.device)
            if t.dtype == torch.float64:
                t = t.float()
            out[k] = t
        return out

    def fit_standardizers(self, batch: Mapping[str, torch.Tensor]) -> bool:
        """Fit the encoder's and decoder's standardizers on ``batch`` if configured and not fitted yet.

        :meth:`loss` calls it, so the first training batch (the prefill's data) sets the statistics of the vector
        keys (:class:`~twist_agents.dreamer.networks.Standardizer`). Returns whether it fitted anything.
        """
        fitted = False
        for part in (self.encoder, self.heads["decoder"]):
            if part.standardizer is not None and not bool(part.standardizer.fitted):
                vec = torch.cat([batch[k].float().flatten(start_dim=2) for k in part.vec_keys], -1)  # (B, T, V)
                part.standardizer.fit(vec)
                fitted = True
        return fitted

    def reward(self, feat: torch.Tensor) -> torch.Tensor:
        """Predicted reward (two-hot mean) ``(...)`` for features ``(..., F)``."""
        return TwoHot(self.heads["reward"](feat)).mean()

    def cont(self, feat: torch.Tensor) -> torch.Tensor:
        """Predicted continue probability ``(...)`` (1 - probability of a terminal state)."""
        return torch.sigmoid(self.heads["cont"](feat).squeeze(-1))

    def loss(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float], State]:
        """World-model loss on a batch of sequences.

        Args:
            batch: ``(B, T, ...)`` tensors: the encoded/decoded observation keys plus ``action``
                (``a_{t-1}``), ``reward``, ``is_first``, ``is_terminal`` (see :mod:`twist_agents.data.store`).

        Returns:
            ``(loss, metrics, post)``: the scalar loss, float metrics and the posterior states
            ``(B, T, ...)`` (with gradients; detach them before imagination).
        """
        cfg = self.config
        if cfg.standardize_vectors:
            self.fit_standardizers(batch)
        # Each image key converted to float once, for the encoder's input and the decoder's target alike.
        image_keys = dict.fromkeys((*self.encoder.img_keys, *self.heads["decoder"].img_keys))
        images = {k: normalize_image(batch[k]) for k in image_keys}
        embed = self.encoder({k: batch[k] for k in cfg.encode}, images)  # (B, T, E)
        post, prior = self.rssm.observe(embed, batch["action"].float(), batch["is_first"])
        feat = self.rssm.get_feat(post)  # (B, T, F)
        losses: dict[str, torch.Tensor] = {}
        for k, v in self.heads["decoder"].loss(feat, batch, images).items():
            losses[f"recon_{k}"] = v
        losses["reward"] = -TwoHot(self.heads["reward"](feat)).log_prob(batch["reward"].float())
        cont_target = 1.0 - batch["is_terminal"].float()
        losses["cont"] = F.binary_cross_entropy_with_logits(
            self.heads["cont"](feat).squeeze(-1), cont_target, reduction="none"
        )
        # KL balancing (DreamerV2/V3) with free bits (DreamerV3: clip below ``kl_free`` nats).
        dyn = kl_categorical(post["logits"].detach(), prior["logits"])  # (B, T)
        rep = kl_categorical(post["logits"], prior["logits"].detach())  # (B, T)
        losses["dyn"] = cfg.kl_dyn_scale * dyn.clamp_min(cfg.kl_free)
        losses["rep"] = cfg.kl_rep_scale * rep.clamp_min(cfg.kl_free)
        total = sum(v.mean() for v in losses.values())
        assert isinstance(total, torch.Tensor)
        metrics = {f"wm/{k}": float(v.mean().detach()) for k, v in losses.items()}
        metrics["wm/kl"] = float(dyn.mean().detach())
        metrics["wm/loss"] = float(total.detach())
        return total, metrics, post
