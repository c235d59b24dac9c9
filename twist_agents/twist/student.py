"""The student world model: an encoder for the student's observation keys and an RSSM shaped like the teacher's.

It has no decoder, no reward head and no continue head: Eq. 3 and Eq. 4 need only the encoder, the sequence
model, the prior and the posterior. That is where TWIST saves compute against a pixel Dreamer, whose image
decoder is the most expensive part of an update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from twist_agents.dreamer.config import EncoderConfig, RSSMConfig
from twist_agents.dreamer.networks import MultiEncoder, RunningStandardizer
from twist_agents.dreamer.rssm import RSSM
from twist_agents.dreamer.world_model import WorldModel


class StudentWorldModel(nn.Module):
    """Encoder (by observation key) + RSSM; latent shapes equal the teacher's so the teacher's actor fits.

    Attributes:
        encode: the observation keys the student reads (``("pixels",)`` for TWIST).
        encoder: :class:`~twist_agents.dreamer.networks.MultiEncoder`.
        rssm: :class:`~twist_agents.dreamer.rssm.RSSM` with the teacher's :class:`RSSMConfig`.
        state_head: ``nn.Linear`` embedding -> state read-out (``DistillConfig.state_aux``), or ``None``.
        state_aux_norm: :class:`~twist_agents.dreamer.networks.RunningStandardizer` of that read-out's target in
            data units, or ``None``.
        readout_feed: whether the posterior reads ``state_head``'s output beside the embedding
            (:attr:`~twist_agents.twist.config.DistillConfig.readout_feed`).
        readout_only: whether it reads that output instead of the embedding
            (:attr:`~twist_agents.twist.config.DistillConfig.readout_only`).

    Args:
        obs_shapes: shapes of the available observation keys.
        encode: keys to encode.
        encoder: encoder sizes.
        rssm: latent sizes (must be the teacher's).
        action_dim: action size.
        aux_dim: size of a linear read-out from the embedding (``state_head``, for
            :attr:`~twist_agents.twist.config.DistillConfig.state_aux`); 0: none.
        readout_feed: the posterior also reads that read-out (needs ``aux_dim`` > 0).
        readout_only: the posterior reads the read-out *instead of* the embedding (needs ``readout_feed``).

    Raises:
        ValueError: ``readout_feed`` without a read-out, or ``readout_only`` without ``readout_feed``.
    """

    def __init__(
        self,
        obs_shapes: Mapping[str, Sequence[int]],
        encode: Sequence[str],
        encoder: EncoderConfig,
        rssm: RSSMConfig,
        action_dim: int,
        aux_dim: int = 0,
        readout_feed: bool = False,
        readout_only: bool = False,
    ) -> None:
        super().__init__()
        if readout_feed and not aux_dim:
            raise ValueError("StudentWorldModel: readout_feed needs a state read-out (aux_dim > 0)")
        if readout_only and not readout_feed:
            raise ValueError("StudentWorldModel: readout_only needs readout_feed")
        self.readout_feed, self.readout_only = readout_feed, readout_only
        self.obs_shapes = {k: tuple(v) for k, v in obs_shapes.items()}
        self.encode = tuple(encode)
        self.encoder_config, self.rssm_config = encoder, rssm
        self.encoder = MultiEncoder(self.obs_shapes, self.encode, encoder)
        # The posterior reads the embedding, plus (or only) the read-out's aux_dim values when they are fed to it.
        post_in = 0 if readout_only else self.encoder.out_dim
        self.rssm = RSSM(rssm, action_dim, post_in + (aux_dim if readout_feed else 0))
        # (B, L, E) -> (B, L, aux_dim): trained as a distillation target; used to act only with readout_feed.
        self.state_head = nn.Linear(self.encoder.out_dim, aux_dim) if aux_dim else None
        # The read-out target's statistics over the dataset D (DistillConfig.state_aux_units == "data"); floor:
        # 1 cm or 0.01 rad, so a dimension that D never moves is not blown up.
        self.state_aux_norm = RunningStandardizer(aux_dim, floor=0.01) if aux_dim else None

    @classmethod
    def for_teacher(
        cls,
        teacher: WorldModel,
        obs_shapes: Mapping[str, Sequence[int]],
        encode: Sequence[str] = ("pixels",),
        encoder: EncoderConfig | None = None,
        rssm_hidden: int = 0,
        aux_dim: int = 0,
        readout_feed: bool = False,
        readout_only: bool = False,
    ) -> StudentWorldModel:
        """A student whose RSSM matches ``teacher``'s, reading ``encode`` (default: pixels).

        Args:
            teacher: the teacher world model.
            obs_shapes: shapes of the student's observation keys (e.g. ``{"pixels": (64, 64, 3)}``).
            encode: the student's keys.
            encoder: encoder sizes (default: the teacher's encoder config, whose ``cnn_depth`` sizes the CNN).
            rssm_hidden: width of the student RSSM's MLP layers (0: the teacher's); latent shapes stay the teacher's.
            aux_dim: size of the embedding's linear read-out (0: none).
            readout_feed: the posterior also reads that read-out.
            readout_only: the posterior reads only that read-out.
        """
        rssm = teacher.config.rssm
        if rssm_hidden:
            rssm = dataclasses.replace(rssm, hidden=rssm_hidden)
        enc = encoder or teacher.config.encoder
        return cls(obs_shapes, encode, enc, rssm, teacher.action_dim, aux_dim, readout_feed, readout_only)

    def posterior_input(self, embed: torch.Tensor) -> torch.Tensor:
        """What the posterior reads, from the ``(..., E)`` embedding: ``(..., E)``, ``(..., E + aux)``, ``(..., aux)``.

        With :attr:`readout_feed`: the embedding, then ``state_head``'s standardised read-out; with
        :attr:`readout_only` as well: the read-out alone.

        The read-out is detached: only ``DistillConfig.state_aux`` trains it, so it stays a supervised estimate of
        the state, and Eq. 3 cannot bend it towards whatever fits the teacher's latents on D's appearances.
        """
        if not self.readout_feed:
            return embed
        assert self.state_head is not None  # __init__ refuses readout_feed without it
        readout = self.state_head(embed).detach()  # (..., aux_dim)
        return readout if self.readout_only else torch.cat([embed, readout], -1)

    def embed(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The posterior's input for observations ``{key: (..., *shape)}``: :meth:`posterior_input` of the encoder."""
        return self.posterior_input(self.encoder(obs))

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return next(self.parameters()).device
