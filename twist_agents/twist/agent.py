"""``TwistAgent``: the student world model filters images; the teacher's actor acts on the student's latents.

It implements the :class:`~twist_agents.protocol.Agent` protocol. ``update`` is one distillation step
(Algorithm 1, line 12); ``act`` needs only ``obs["pixels"]`` (deployment on a real robot has no state).
``save`` writes one artefact with everything: student, teacher world model and actor, optimiser, counters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from twist_agents.dreamer.agent import DreamerAgent, atomic_torch_save, latent_act
from twist_agents.dreamer.config import config_from_dict
from twist_agents.dreamer.rssm import State
from twist_agents.protocol import Observation
from twist_agents.twist.config import DistillConfig
from twist_agents.twist.losses import distillation_loss, readout_pretrain_loss
from twist_agents.twist.student import StudentWorldModel


def copy_dynamics(teacher: nn.Module, student: nn.Module) -> None:
    """Copy the teacher RSSM's weights into the student's where shapes allow (:attr:`DistillConfig.init_from_teacher`).

    Every parameter of equal shape is copied. The posterior's first layer reads ``concat(h, embed)``; its ``h``
    columns are copied and its embedding columns keep their fresh initialisation (the embeddings differ).

    Raises:
        ValueError: the two RSSMs differ in a shape other than the posterior's embedding input.
    """
    t_state, s_state = teacher.state_dict(), student.state_dict()
    with torch.no_grad():
        for name, s_param in s_state.items():
            t_param = t_state[name]
            if t_param.shape == s_param.shape:
                s_param.copy_(t_param)
            elif name == "post_net.hidden.0.weight" and t_param.shape[0] == s_param.shape[0]:
                deter = teacher.config.deter  # type: ignore[attr-defined]
                s_param[:, :deter] = t_param[:, :deter]  # (hidden, deter) of (hidden, deter + embed)
            else:
                raise ValueError(
                    f"init_from_teacher: {name} is {tuple(s_param.shape)} in the student but {tuple(t_param.shape)} "
                    "in the teacher; leave rssm_hidden at 0"
                )


class TwistAgent:
    """Student world model + the teacher's actor, behind the Agent protocol.

    Attributes:
        teacher: the frozen teacher :class:`~twist_agents.dreamer.agent.DreamerAgent` (world model + actor).
        student: the :class:`StudentWorldModel`.
        config: the :class:`DistillConfig`.
        updates: distillation updates done so far.

    Args:
        teacher: the trained teacher; its parameters are frozen here.
        student_obs_shapes: shapes of the student's keys (e.g. ``{"pixels": (64, 64, 3)}``).
        config: distillation settings.
        encode: the student's observation keys.
        seed: seeds the student's initialisation and the distillation's randomness.
    """

    def __init__(
        self,
        teacher: DreamerAgent,
        student_obs_shapes: Mapping[str, Sequence[int]],
        config: DistillConfig,
        encode: Sequence[str] = ("pixels",),
        seed: int = 0,
    ) -> None:
        self.teacher = teacher
        self.config = config
        for p in (*teacher.world_model.parameters(), *teacher.behavior.parameters()):
            p.requires_grad_(False)  # Algorithm 1 updates theta only; phi stays frozen
        teacher.world_model.eval()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            enc = teacher.world_model.config.encoder
            if config.cnn_depth:
                enc = dataclasses.replace(enc, cnn_depth=config.cnn_depth)
            aux_dim = 0
            if config.state_aux_units not in ("data", "teacher"):
                raise ValueError(
                    f"DistillConfig.state_aux_units must be 'data' or 'teacher', got {config.state_aux_units!r}"
                )
            if config.shift_aug < 0:
                raise ValueError(f"DistillConfig.shift_aug must be >= 0 pixels, got {config.shift_aug}")
            if not 0.0 <= config.conv_aug <= 1.0:
                raise ValueError(f"DistillConfig.conv_aug must be a share in [0, 1], got {config.conv_aug}")
            if config.latent_aux > 0 and (config.state_aux <= 0 or config.state_aux_units != "data"):
                raise ValueError(
                    "DistillConfig.latent_aux needs state_aux > 0 with state_aux_units='data' (it shares their "
                    f"dimensions and standardiser), got state_aux={config.state_aux}, "
                    f"state_aux_units={config.state_aux_units!r}"
                )
            if config.readout_pretrain < 0 or config.readout_pretrain_batch < 1:
                raise ValueError(
                    "DistillConfig.readout_pretrain must be >= 0 and readout_pretrain_batch >= 1, got "
                    f"{config.readout_pretrain} and {config.readout_pretrain_batch}"
                )
            if not 0.0 <= config.readout_pretrain_focus <= 1.0 or not 0.0 < config.readout_pretrain_focus_top <= 1.0:
                raise ValueError(
                    "DistillConfig.readout_pretrain_focus must be in [0, 1] and readout_pretrain_focus_top in (0, 1], "
                    f"got {config.readout_pretrain_focus} and {config.readout_pretrain_focus_top}"
                )
            if config.readout_pretrain > 0 and config.state_aux <= 0:
                raise ValueError(
                    "DistillConfig.readout_pretrain trains the state_aux read-out: it needs state_aux > 0, got "
                    f"state_aux={config.state_aux}"
                )
            if config.readout_feed and config.state_aux <= 0:
                raise ValueError(
                    "DistillConfig.readout_feed feeds the state_aux read-out to the posterior: it needs state_aux > 0, "
                    f"got state_aux={config.state_aux}"
                )
            if config.readout_only and not config.readout_feed:
                raise ValueError(
                    "DistillConfig.readout_only needs readout_feed (it replaces the embedding by the feed)"
                )
            if config.latent_aux > 0 and "state" not in getattr(teacher.world_model.heads["decoder"], "vec_keys", ()):
                raise ValueError("DistillConfig.latent_aux needs a teacher whose world model decodes 'state'")
            if config.state_aux > 0:
                if "state" not in teacher.obs_shapes:
                    raise ValueError("DistillConfig.state_aux needs a teacher whose observations include 'state'")
                aux_dim = int(np.prod(teacher.obs_shapes["state"]))
                dims = tuple(int(i) for i in config.state_aux_dims)
                if dims and (len(set(dims)) != len(dims) or not all(0 <= i < aux_dim for i in dims)):
                    raise ValueError(
                        f"DistillConfig.state_aux_dims must be distinct indices in [0, {aux_dim}) (the teacher's "
                        f"state size), got {config.state_aux_dims!r}"
                    )
                aux_dim = len(dims) or aux_dim
            self.student = StudentWorldModel.for_teacher(
                teacher.world_model,
                student_obs_shapes,
                encode,
                enc,
                rssm_hidden=config.rssm_hidden,
                aux_dim=aux_dim,
                readout_feed=config.readout_feed,
                readout_only=config.readout_only,
            ).to(teacher.device)
            if config.init_from_teacher:
                copy_dynamics(teacher.world_model.rssm, self.student.rssm)
        self.opt = torch.optim.Adam(self.student.parameters(), lr=config.lr, eps=config.eps)
        self.generator = torch.Generator(device=teacher.device).manual_seed(seed)
        self.updates = 0
        self.pretrain_updates = 0

    @property
    def device(self) -> torch.device:
        """Torch device."""
        return self.teacher.device

    @property
    def actor(self) -> nn.Module:
        """The teacher's actor (acts on student latents at deployment)."""
        return self.teacher.actor

    @property
    def batch_keys(self) -> tuple[str, ...]:
        """Keys :meth:`update` reads from the teacher's dataset."""
        aux = ("state",) if self.config.state_aux > 0 else ()
        keys = dict.fromkeys(
            (*self.teacher.config.world_model.encode, *self.student.encode, *aux, "action", "is_first")
        )
        return tuple(keys)

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs: Observation, state: tuple[State, torch.Tensor] | None, explore: bool) -> tuple[np.ndarray, Any]:
        """Filter ``obs`` (only the student's keys, e.g. pixels) and act with the teacher's actor.

        Args:
            obs: one observation; only ``self.student.encode`` keys are read.
            state: ``None`` at an episode start, else the previous call's state.
            explore: sample actions (``False``: the actor's mode, for evaluation).

        Returns:
            ``(action scaled to the env's bounds, new state)``.
        """
        # Latent modes, as in distillation (twist_agents.twist.losses): the student tracks the teacher's mode path.
        s = self.student
        return latent_act(s.embed, s.rssm, self.actor, s.encode, obs, state, explore, False, self.teacher)

    # ------------------------------------------------------------------ learning
    def update(self, batch: Mapping[str, np.ndarray]) -> dict[str, float]:
        """One distillation step on ``(B, L, ...)`` sequences of the teacher's paired dataset (Eq. 3 + Eq. 4)."""
        tb = self.teacher.world_model.to_torch({k: batch[k] for k in self.batch_keys})
        terms = distillation_loss(self.teacher.world_model, self.actor, self.student, tb, self.config, self.generator)
        self.opt.zero_grad(set_to_none=True)
        terms.loss.backward()
        metrics = terms.metrics()
        metrics["distill/grad_norm"] = float(nn.utils.clip_grad_norm_(self.student.parameters(), self.config.grad_clip))
        self.opt.step()
        self.updates += 1
        return metrics

    def pretrain_update(self, batch: Mapping[str, np.ndarray]) -> float:
        """One read-out pretraining step (``DistillConfig.readout_pretrain``); returns its loss.

        On ``(B, L, ...)`` frames of D; only the student's encoder and ``state_head`` get gradients.
        """
        tb = self.teacher.world_model.to_torch({k: batch[k] for k in self.batch_keys})
        loss = readout_pretrain_loss(self.teacher.world_model, self.student, tb, self.config, self.generator)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.student.parameters(), self.config.grad_clip)
        self.opt.step()
        self.pretrain_updates += 1
        return float(loss.detach())

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything: the teacher (config, spaces, weights), the student, optimiser, counters."""
        t = self.teacher
        return {
            "kind": "twist",
            "teacher": {
                "config": dataclasses.asdict(t.config),
                "obs_shapes": t.obs_shapes,
                "action_low": t._low,
                "action_high": t._high,
                "world_model": t.world_model.state_dict(),
                "behavior": t.behavior.state_dict(),
            },
            "distill": dataclasses.asdict(self.config),
            "student_obs_shapes": self.student.obs_shapes,
            "student_encode": self.student.encode,
            "student": self.student.state_dict(),
            "opt": self.opt.state_dict(),
            "generator": self.generator.get_state(),
            "updates": self.updates,
            "pretrain_updates": self.pretrain_updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the student, optimiser and counters of :meth:`state_dict` (the teacher must already match)."""
        self.student.load_state_dict(state["student"])
        self.opt.load_state_dict(state["opt"])
        self.generator.set_state(state["generator"])
        self.updates = int(state["updates"])
        self.pretrain_updates = int(state.get("pretrain_updates", 0))  # absent from checkpoints before it existed

    def save(self, path: str | Path) -> None:
        """Write the whole agent to ``path`` atomically (one artefact: deployable and resumable)."""
        atomic_torch_save(self.state_dict(), path)

    def load(self, path: str | Path) -> None:
        """Restore a file written by :meth:`save` into this agent."""
        self.load_state_dict(torch.load(path, map_location=self.device, weights_only=False))

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "cpu") -> TwistAgent:
        """Rebuild a complete agent (teacher included) from one file written by :meth:`save`."""
        state = torch.load(path, map_location=device, weights_only=False)
        if state.get("kind") != "twist":
            raise ValueError(f"{path} is not a TWIST agent checkpoint")
        ts = state["teacher"]
        cfg = dataclasses.replace(config_from_dict(ts["config"]), device=device)
        space = gym.spaces.Box(ts["action_low"], ts["action_high"], dtype=np.float32)
        teacher = DreamerAgent(cfg, ts["obs_shapes"], space)
        teacher.world_model.load_state_dict(ts["world_model"])
        teacher.behavior.load_state_dict(ts["behavior"])
        distill = DistillConfig(**state["distill"])
        agent = cls(teacher, state["student_obs_shapes"], distill, state["student_encode"])
        agent.load_state_dict(state)
        return agent
