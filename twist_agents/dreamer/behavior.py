"""Actor-critic learned on imagined rollouts of the world model (DreamerV3 behaviour learning).

From every posterior state of a training batch the world model imagines ``H`` steps with the actor::

    s_0 (posterior) --a_0--> s_1 --a_1--> ... --a_{H-1}--> s_H        (states: (N, H+1, ...))
    rewards r_1..r_H and continues c_1..c_H are predicted from s_1..s_H
    lambda-return  R_t = r_{t+1} + gamma c_{t+1} ((1 - lam) v(s_{t+1}) + lam R_{t+1}),  R_H = v(s_H)

DreamerV3 techniques used: two-hot symlog critic (:class:`~twist_agents.dreamer.networks.TwoHot`),
a slow (EMA) target critic that provides the bootstrap values and regularises the critic, and
percentile return normalisation (divide by ``max(1, EMA(P95 - P5))``) so that one entropy scale works
across reward scales.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn

from twist_agents.dreamer.config import BehaviorConfig
from twist_agents.dreamer.networks import MLP, TwoHot, adam
from twist_agents.dreamer.rssm import State


class ActionDist:
    """Diagonal Gaussian over actions in [-1, 1] (mean squashed by tanh, std in ``[min_std, max_std]``).

    - ``sample()``: a reparameterised sample (gradients flow to mean and std), clipped to [-1, 1]
      with a straight-through gradient; used for exploration and imagination.
    - ``mode()``: the mean, ``tanh`` of the network output, already in (-1, 1); used for evaluation.
    - ``log_prob(a)`` / ``entropy()``: of the unclipped Gaussian, summed over action dims -> ``(...)``.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean = mean
        self.std = std
        self.normal = torch.distributions.Normal(mean, std)

    def sample(self) -> torch.Tensor:
        """Reparameterised, clipped sample ``(..., A)``."""
        x = self.normal.rsample()
        return x + (x.clamp(-1.0, 1.0) - x).detach()

    def mode(self) -> torch.Tensor:
        """Most likely action ``(..., A)``."""
        return self.mean

    def log_prob(self, action: torch.Tensor) -> torch.Tensor:
        """Log-density ``(...)``."""
        return self.normal.log_prob(action).sum(-1)

    def entropy(self) -> torch.Tensor:
        """Entropy ``(...)``."""
        return self.normal.entropy().sum(-1)


class Actor(nn.Module):
    """Policy ``pi(a | h, z)``: ``actor(feat) -> ActionDist`` (see :class:`ActionDist` for sample/mode)."""

    def __init__(self, feat_dim: int, action_dim: int, config: BehaviorConfig) -> None:
        super().__init__()
        self.config = config
        self.net = MLP(feat_dim, 2 * action_dim, config.actor_layers, config.actor_units, config.act)

    def forward(self, feat: torch.Tensor) -> ActionDist:
        """Action distribution for features ``(..., F)``."""
        mean, std = self.net(feat).chunk(2, -1)
        lo, hi = self.config.min_std, self.config.max_std
        # The +2 starts the std near its upper end, i.e. exploring.
        return ActionDist(torch.tanh(mean), (hi - lo) * torch.sigmoid(std + 2.0) + lo)


class Critic(nn.Module):
    """Value ``v(h, z)`` as a two-hot symlog distribution: ``critic(feat) -> TwoHot``."""

    def __init__(self, feat_dim: int, config: BehaviorConfig) -> None:
        super().__init__()
        self.net = MLP(
            feat_dim, config.bins, config.critic_layers, config.critic_units, config.act, zero_init_output=True
        )

    def forward(self, feat: torch.Tensor) -> TwoHot:
        """Value distribution for features ``(..., F)``."""
        return TwoHot(self.net(feat))


def lambda_returns(reward: torch.Tensor, value: torch.Tensor, discount: torch.Tensor, lam: float) -> torch.Tensor:
    """TD(lambda) returns over an imagined trajectory.

    Args:
        reward: ``(N, H)`` rewards ``r_1..r_H``.
        value: ``(N, H + 1)`` values ``v(s_0)..v(s_H)``.
        discount: ``(N, H)`` ``gamma * c_1..c_H``.
        lam: lambda.

    Returns:
        ``(N, H)`` returns ``R_0..R_{H-1}``.
    """
    ret = value[:, -1]
    out = []
    for t in reversed(range(reward.shape[1])):
        ret = reward[:, t] + discount[:, t] * ((1 - lam) * value[:, t + 1] + lam * ret)
        out.append(ret)
    return torch.stack(out[::-1], 1)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Temporarily stop ``module`` from accumulating gradients (gradients still flow *through* it)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(f)


class ActorCritic(nn.Module):
    """Actor, critic, slow critic, their optimisers and the return normaliser.

    Args:
        feat_dim: world-model feature size (``rssm.feat_dim``).
        action_dim: action size.
        config: behaviour config.
    """

    def __init__(self, feat_dim: int, action_dim: int, config: BehaviorConfig) -> None:
        super().__init__()
        if config.bootstrap not in ("slow", "online"):
            raise ValueError(f"ActorCritic: bootstrap must be 'slow' or 'online', got {config.bootstrap!r}")
        if config.actor_grad not in ("dynamics", "reinforce"):
            raise ValueError(f"ActorCritic: actor_grad must be 'dynamics' or 'reinforce', got {config.actor_grad!r}")
        self.config = config
        self.actor = Actor(feat_dim, action_dim, config)
        self.critic = Critic(feat_dim, config)
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.register_buffer("return_scale", torch.zeros(()))
        self.actor_opt = adam(self.actor.parameters(), lr=config.actor_lr, eps=1e-5)
        self.critic_opt = adam(self.critic.parameters(), lr=config.critic_lr, eps=1e-5)

    def update(self, world_model: nn.Module, start: State, start_cont: torch.Tensor) -> dict[str, float]:
        """One actor and one critic step on rollouts imagined from ``start``.

        Args:
            world_model: the :class:`~twist_agents.dreamer.world_model.WorldModel` (not updated here).
            start: ``(N, ...)`` start states (posteriors, detached).
            start_cont: ``(N,)`` 1 - is_terminal of the start states.

        Returns:
            Float metrics.
        """
        cfg = self.config
        rssm = world_model.rssm  # type: ignore[attr-defined]
        # The critic's values carry the return's gradient to the actor (through the dynamics) but the
        # actor loss must not train the critic: freezing it skips those weight gradients entirely.
        with frozen(world_model), frozen(self.critic):
            # The actor's distributions at s_0..s_{H-1} are kept from the rollout for the actor loss below
            # (same parameters, same inputs: evaluating the actor a second time would only repeat them).
            dists: list[ActionDist] = []
            policy = lambda s: self._imagine_action(rssm.get_feat(s), dists)
            states, actions = rssm.imagine(start, policy, cfg.horizon)
            feat = rssm.get_feat(states)  # (N, H+1, F)
            # A contiguous copy: a linear layer on the strided slice ``feat[:, 1:]`` that requires grad runs as
            # N small batched matmuls (forward and backward), several times slower than one matmul.
            later = feat[:, 1:].contiguous()  # (N, H, F)
            reward = world_model.reward(later)  # type: ignore[attr-defined]  # (N, H)
            cont = world_model.cont(later)  # type: ignore[attr-defined]  # (N, H)
            slow_value = self.slow_critic(feat).mean()  # (N, H+1)
            value = slow_value if cfg.bootstrap == "slow" else self.critic(feat).mean()
            returns = lambda_returns(reward, value, cfg.gamma * cont, cfg.lam)  # (N, H)
            # Weight of step t: probability the imagined episode is still running at s_t.
            weight = torch.cumprod(torch.cat([start_cont[:, None], cfg.gamma * cont[:, :-1]], 1), 1).detach()  # (N, H)

            # Percentile return normalisation (DreamerV3).
            flat = returns.detach().flatten()
            spread = torch.quantile(flat, 0.95) - torch.quantile(flat, 0.05)
            decay = cfg.retnorm_decay
            self.return_scale.copy_(decay * self.return_scale + (1 - decay) * spread)
            scale = torch.clamp(self.return_scale, min=cfg.retnorm_limit)

            dist = ActionDist(torch.stack([d.mean for d in dists], 1), torch.stack([d.std for d in dists], 1))
            if cfg.actor_grad == "dynamics":
                objective = returns / scale
            else:
                baseline = self.critic(feat[:, :-1].detach()).mean()
                adv = ((returns - baseline) / scale).detach()
                objective = dist.log_prob(actions.detach()) * adv
            entropy = dist.entropy()
            actor_loss = -(weight * (objective + cfg.entropy * entropy)).mean()
            self.actor_opt.zero_grad(set_to_none=True)
            actor_loss.backward()
            actor_norm = nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.grad_clip)
            self.actor_opt.step()

        metrics = self.critic_update(feat[:, :-1].detach(), returns.detach(), slow_value[:, :-1].detach(), weight)
        return {
            "actor/loss": float(actor_loss.detach()),
            "actor/entropy": float(entropy.mean().detach()),
            "actor/grad_norm": float(actor_norm),
            **metrics,
            "imag/return": float(returns.mean().detach()),
            "imag/value": float(value[:, 0].mean().detach()),
            "imag/reward": float(reward.mean().detach()),
            "imag/return_scale": float(self.return_scale),
        }

    def critic_update(
        self, feat: torch.Tensor, target: torch.Tensor, slow_target: torch.Tensor, weight: torch.Tensor
    ) -> dict[str, float]:
        """One critic step: two-hot regression onto the returns, regularised towards the slow critic.

        Then the slow critic moves ``slow_critic_fraction`` of the way towards the critic (EMA).

        Args:
            feat: ``(N, H, F)`` features of the imagined states ``s_0..s_{H-1}`` (no gradient).
            target: ``(N, H)`` lambda-returns ``R_0..R_{H-1}``.
            slow_target: ``(N, H)`` the slow critic's values of the same states.
            weight: ``(N, H)`` per-step loss weights (probability the episode still runs).

        Returns:
            ``critic/loss`` and ``critic/grad_norm``.
        """
        cfg = self.config
        value_dist = self.critic(feat)
        logp = torch.log_softmax(value_dist.logits, -1)  # computed once for both targets
        critic_loss = -value_dist.log_prob(target, logp) - cfg.slow_critic_reg * value_dist.log_prob(slow_target, logp)
        critic_loss = (weight * critic_loss).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        critic_norm = nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.grad_clip)
        self.critic_opt.step()
        with torch.no_grad():
            for slow, fast in zip(self.slow_critic.parameters(), self.critic.parameters(), strict=True):
                slow.lerp_(fast, cfg.slow_critic_fraction)
        return {"critic/loss": float(critic_loss.detach()), "critic/grad_norm": float(critic_norm)}

    def _imagine_action(self, feat: torch.Tensor, dists: list[ActionDist]) -> torch.Tensor:
        # The actor sees a stopped-gradient feature; with "dynamics" gradients, the action sample
        # still carries the gradient of the return into the actor.
        dist = self.actor(feat.detach())
        dists.append(dist)
        action = dist.sample()
        return action if self.config.actor_grad == "dynamics" else action.detach()
