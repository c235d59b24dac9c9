"""Dreamer agent behind the :class:`~twist_agents.protocol.Agent` protocol.

Acting filters the observation stream through the RSSM (``obs_step``) and feeds the latent feature
to the actor. The recurrent ``state`` returned by :meth:`DreamerAgent.act` is ``(latent, action)``:
the posterior of the current step and the action just taken, which becomes ``a_{t-1}`` of the next
call (see the timing diagram in :mod:`twist_agents.dreamer.rssm`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from twist_agents.data.store import atomic_write
from twist_agents.dreamer.behavior import ActorCritic
from twist_agents.dreamer.config import DreamerConfig, config_from_dict
from twist_agents.dreamer.networks import adam
from twist_agents.dreamer.rssm import RSSM, State
from twist_agents.dreamer.world_model import WorldModel, action_dim_of, obs_shapes_of
from twist_agents.protocol import Observation

AgentState = tuple[State, torch.Tensor]
"""Recurrent state of :meth:`DreamerAgent.act`: ``(posterior (1, ...), last action (1, A))``."""


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` atomically (temp file, fsync, rename: :func:`~twist_agents.data.store.atomic_write`)."""
    atomic_write(path, lambda f: torch.save(obj, f))


def latent_act(
    encoder: Callable[[Mapping[str, torch.Tensor]], torch.Tensor],
    rssm: RSSM,
    actor: nn.Module,
    keys: Sequence[str],
    obs: Observation,
    state: AgentState | None,
    explore: bool,
    sample_latent: bool,
    bounds: DreamerAgent,
) -> tuple[np.ndarray, AgentState]:
    """Filter one observation through ``encoder`` + ``rssm`` and act with ``actor`` (shared by Dreamer and TWIST).

    Args:
        encoder: maps ``{key: (1, ...)}`` to an embedding ``(1, E)``.
        rssm: the RSSM whose posterior the actor reads.
        actor: ``actor(feat) -> dist`` with ``.sample()`` / ``.mode()``.
        keys: the observation keys to encode (a missing one is a ``ValueError`` naming it).
        obs: one unbatched observation.
        state: ``None`` at an episode start, else the previous call's ``(posterior, action)``.
        explore: sample the action (``False``: the actor's mode).
        sample_latent: sample the posterior latent (``False``: its mode).
        bounds: the agent whose action bounds the action is scaled to.

    Returns:
        ``(action scaled to the env's bounds, (posterior (1, ...), action (1, A) in [-1, 1]))``.
    """
    missing = [k for k in keys if k not in obs]
    if missing:
        raise ValueError(f"act: the observation lacks {missing} (has {sorted(obs)})")
    device = bounds.device
    x = {k: torch.as_tensor(np.asarray(obs[k]), device=device)[None] for k in keys}
    embed = encoder(x)  # (1, E)
    if state is None:
        latent, prev_action = None, torch.zeros(1, bounds.action_dim, device=device)
        is_first = torch.ones(1, device=device)
    else:
        (latent, prev_action), is_first = state, torch.zeros(1, device=device)
    post, _ = rssm.obs_step(latent, prev_action, embed, is_first, sample=sample_latent)
    dist = actor(rssm.get_feat(post))
    action = (dist.sample() if explore else dist.mode()).clamp(-1.0, 1.0)  # (1, A)
    scaled = bounds._low + (action[0].cpu().numpy() + 1.0) * 0.5 * (bounds._high - bounds._low)
    return scaled.astype(np.float32), (post, action)


class DreamerAgent:
    """World model + actor-critic; implements ``act`` / ``update`` / ``save`` / ``load``.

    Attributes:
        config: the :class:`DreamerConfig`.
        world_model: the :class:`WorldModel`.
        behavior: the :class:`~twist_agents.dreamer.behavior.ActorCritic`
            (``actor``, ``critic``, ``slow_critic``).
        actor: ``actor(feat) -> ActionDist`` with ``.sample()`` (explore) and ``.mode()`` (evaluate).
        critic: ``critic(feat) -> TwoHot`` with ``.mean()``.
        updates: number of :meth:`update` calls so far.

    Args:
        config: agent config (see :func:`~twist_agents.dreamer.config.dreamer_config`).
        obs_space: the env's observation space (``Dict``) or ``{key: shape}``.
        action_space: the env's ``Box`` action space.
        seed: seeds the parameter initialisation.
    """

    def __init__(
        self,
        config: DreamerConfig,
        obs_space: gym.spaces.Space | Mapping[str, Sequence[int]],
        action_space: gym.spaces.Box,
        seed: int = 0,
    ) -> None:
        self.config = config
        self.obs_shapes = obs_shapes_of(obs_space)
        self.action_space = action_space
        self.action_dim = action_dim_of(action_space)
        low, high = np.asarray(action_space.low, np.float32), np.asarray(action_space.high, np.float32)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError("DreamerAgent: the action space must be bounded")
        self._low, self._high = low, high
        device = torch.device(config.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.world_model = WorldModel(config.world_model, self.obs_shapes, self.action_dim).to(device)
            self.behavior = ActorCritic(self.world_model.rssm.feat_dim, self.action_dim, config.behavior).to(device)
        wm = config.world_model
        self.wm_opt = adam(self.world_model.parameters(), lr=wm.lr, eps=wm.eps)
        self.updates = 0

    @property
    def actor(self) -> nn.Module:
        """The policy network: ``actor(feat) -> ActionDist``."""
        return self.behavior.actor

    @property
    def critic(self) -> nn.Module:
        """The value network: ``critic(feat) -> TwoHot``."""
        return self.behavior.critic

    @property
    def device(self) -> torch.device:
        """Torch device of the networks."""
        return self.world_model.device

    @property
    def batch_keys(self) -> tuple[str, ...]:
        """Keys :meth:`update` reads; the training loop loads only these from disk."""
        wm = self.config.world_model
        keys = dict.fromkeys((*wm.encode, *wm.decode, "action", "reward", "is_first", "is_last", "is_terminal"))
        return tuple(keys)

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(self, obs: Observation, state: AgentState | None, explore: bool) -> tuple[np.ndarray, AgentState]:
        """Choose an action for one unbatched observation.

        Args:
            obs: ``{key: array}``; must contain the encoded keys.
            state: ``None`` at the start of an episode, else what the previous call returned.
            explore: sample latents and actions (training) or take modes (evaluation, deterministic).

        Returns:
            ``(action, state)``: the action scaled to the env's action bounds, and the new state.
        """
        wm = self.world_model
        return latent_act(
            wm.encoder, wm.rssm, self.actor, self.config.world_model.encode, obs, state, explore, explore, self
        )

    def normalize_action(self, action: np.ndarray) -> np.ndarray:
        """Map env-bounded actions to [-1, 1] (the scale the world model is trained on)."""
        return (2.0 * (np.asarray(action, np.float32) - self._low) / (self._high - self._low) - 1.0).astype(np.float32)

    # ------------------------------------------------------------------ learning
    def update(self, batch: Mapping[str, np.ndarray]) -> dict[str, float]:
        """One world-model step, then one actor and one critic step on imagined rollouts.

        Args:
            batch: ``(B, T, ...)`` arrays with the encoded/decoded keys and ``action``, ``reward``,
                ``is_first``, ``is_terminal`` (from :class:`~twist_agents.data.sampler.SequenceSampler`).
                Actions must be in [-1, 1] (the store holds them that way).

        Returns:
            Float metrics (``wm/*``, ``actor/*``, ``critic/*``, ``imag/*``).
        """
        wm = self.world_model
        tb = wm.to_torch(batch)
        loss, metrics, post = wm.loss(tb)
        self.wm_opt.zero_grad(set_to_none=True)
        loss.backward()
        metrics["wm/grad_norm"] = float(nn.utils.clip_grad_norm_(wm.parameters(), self.config.world_model.grad_clip))
        self.wm_opt.step()
        start = {k: v.detach().flatten(0, 1) for k, v in post.items()}  # (B*T, ...)
        start_cont = 1.0 - tb["is_terminal"].float().flatten(0, 1)  # (B*T,)
        n = self.config.behavior.imag_starts
        if 0 < n < start_cont.shape[0]:
            idx = torch.randperm(start_cont.shape[0], device=self.device)[:n]
            start = {k: v[idx] for k, v in start.items()}
            start_cont = start_cont[idx]
        metrics.update(self.behavior.update(wm, start, start_cont))
        self.updates += 1
        return metrics

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to act and to resume training (weights, optimisers, counters, config)."""
        return {
            "config": dataclasses.asdict(self.config),
            "obs_shapes": self.obs_shapes,
            "action_low": self._low,
            "action_high": self._high,
            "world_model": self.world_model.state_dict(),
            "behavior": self.behavior.state_dict(),
            "wm_opt": self.wm_opt.state_dict(),
            "actor_opt": self.behavior.actor_opt.state_dict(),
            "critic_opt": self.behavior.critic_opt.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` in place (a weights-only file, :meth:`save_weights`, leaves the optimisers)."""
        self.world_model.load_state_dict(state["world_model"])
        self.behavior.load_state_dict(state["behavior"])
        if "wm_opt" in state:
            self.wm_opt.load_state_dict(state["wm_opt"])
            self.behavior.actor_opt.load_state_dict(state["actor_opt"])
            self.behavior.critic_opt.load_state_dict(state["critic_opt"])
        self.updates = int(state["updates"])

    def save(self, path: str | Path) -> None:
        """Write :meth:`state_dict` to ``path`` atomically (temp file + rename)."""
        atomic_torch_save(self.state_dict(), path)

    def save_weights(self, path: str | Path) -> None:
        """Write what acting and distillation need (config, spaces, weights; no optimiser state), atomically.

        A third of :meth:`save`'s size: the form in which the project ships trained teachers.
        """
        state = {k: v for k, v in self.state_dict().items() if not k.endswith("_opt")}
        atomic_torch_save(state, path)

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote."""
        self.load_state_dict(torch.load(path, map_location=self.device, weights_only=False))

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = None) -> DreamerAgent:
        """Rebuild an agent (config, spaces, weights, optimisers) from a file written by :meth:`save`.

        Args:
            path: the checkpoint file.
            device: override the stored device (e.g. ``"cpu"``).
        """
        state = torch.load(path, map_location=device or "cpu", weights_only=False)
        config = config_from_dict(state["config"])
        if device is not None:
            config = dataclasses.replace(config, device=device)
        space = gym.spaces.Box(state["action_low"], state["action_high"], dtype=np.float32)
        agent = cls(config, state["obs_shapes"], space)
        agent.load_state_dict(state)
        return agent
