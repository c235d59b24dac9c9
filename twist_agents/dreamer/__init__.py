"""Dreamer: RSSM world model (encode/decode keys decide the variant) and an imagination actor-critic.

Public API (what TWIST distillation, the runner and the baselines build on)::

    from twist_agents.dreamer import (
        DreamerAgent, DreamerConfig, dreamer_config, WorldModel, RSSM, kl_categorical,
    )

Configs: ``dreamer_config(preset, encode=("state",), decode=("state",), **overrides)`` with presets
``"debug"``, ``"cpu"``, ``"paper"``; variants are encode/decode key tuples:
Oracle ``("state",)/("state",)``, Dreamer +-DR ``("pixels",)/("pixels",)``, State Recon
``("pixels",)/("state",)``.

Latent state: a dict ``{"deter": (..., D), "stoch": (..., S, C) one-hot, "logits": (..., S, C)}``
(``logits`` are unimix log-probabilities; ``D = rssm.config.deter``, ``S = stoch``, ``C = classes``).

``RSSM`` (``world_model.rssm``):

- ``initial(batch_size) -> state`` with ``(B, ...)`` zero tensors.
- ``observe(embed (B,T,E), action (B,T,A), is_first (B,T), state=None, sample=True) -> (post, prior)``,
  dicts of ``(B, T, ...)`` tensors; ``post["deter"] is prior["deter"]``-equal (``h_t`` is shared).
- ``obs_step(prev_state | None, prev_action (B,A), embed (B,E), is_first (B,), sample=True) -> (post, prior)``
  (resets state and action to zeros where ``is_first``).
- ``img_step(state, action (B,A), sample=True) -> prior`` of the next step.
- ``imagine(start (N,...), policy_fn(state)->action (N,A) | actions (N,H,A), horizon) -> (states (N,H+1,...),
  actions (N,H,A))``; ``states[:, 0]`` is ``start``; ``actions[:, i]`` leads from ``states[:, i]`` to ``[:, i+1]``.
- ``get_feat(state) -> (..., D + S*C)`` = ``concat(deter, flatten(stoch))``; ``feat_dim``.
- module-level ``kl_categorical(lhs_logits, rhs_logits) -> (...)``: exact ``KL[lhs || rhs]`` summed over the
  ``S`` latents (``(B, T)`` for sequence inputs), zero for equal inputs.

``WorldModel(config.world_model, obs_space, action_space)``:

- ``encoder(obs_dict of (..., *shape)) -> embed (..., E)`` (uint8 pixels accepted).
- ``rssm``; ``heads`` = ModuleDict(decoder, reward, cont); ``reward(feat)``, ``cont(feat)`` helpers.
- ``loss(batch of (B,T,...) tensors) -> (loss, metrics, post)``; ``to_torch(numpy_batch)``.

``DreamerAgent(config, obs_space, action_space, seed)`` (Agent protocol: ``act``/``update``/``save``/``load``;
``DreamerAgent.from_checkpoint(path)``) holds ``world_model``, ``actor``, ``critic``, ``behavior``,
``config``. ``actor(feat) -> ActionDist``: ``.sample()`` is a reparameterised Gaussian sample clipped to
[-1, 1] (explore / imagination), ``.mode()`` the tanh mean (evaluate); ``critic(feat).mean()`` the value.

Action / timing convention (stored data, ``observe`` and ``act`` agree)::

    env:      o_0 --a_0--> o_1 --a_1--> o_2          (a_t is chosen AFTER observing o_t)
    row t:     0            1            2
    action:   0            a_0          a_1          <- batch["action"][:, t] = a_{t-1}, led INTO o_t
    reward:   0            r(o_0,a_0)   r(o_1,a_1)   <- reward received on arriving at o_t
    h_t:      f(init, 0)   f(h_0,z_0,a_0) f(h_1,z_1,a_1)

i.e. ``batch["action"][:, t]`` feeds the step that produces ``h_t``; the policy's output at row ``t``
(``a_t``) is stored in row ``t + 1``. Actions in stored data are in [-1, 1].
"""

from twist_agents.dreamer.agent import DreamerAgent
from twist_agents.dreamer.behavior import ActionDist, Actor, ActorCritic, Critic, lambda_returns
from twist_agents.dreamer.config import (
    PRESETS,
    BehaviorConfig,
    DecoderConfig,
    DreamerConfig,
    EncoderConfig,
    HeadConfig,
    RSSMConfig,
    WorldModelConfig,
    config_from_dict,
    dreamer_config,
)
from twist_agents.dreamer.networks import MLP, TwoHot, symexp, symlog
from twist_agents.dreamer.rssm import RSSM, State, kl_categorical
from twist_agents.dreamer.world_model import WorldModel

__all__ = [
    "PRESETS",
    "MLP",
    "RSSM",
    "ActionDist",
    "Actor",
    "ActorCritic",
    "BehaviorConfig",
    "Critic",
    "DecoderConfig",
    "DreamerAgent",
    "DreamerConfig",
    "EncoderConfig",
    "HeadConfig",
    "RSSMConfig",
    "State",
    "TwoHot",
    "WorldModel",
    "WorldModelConfig",
    "config_from_dict",
    "dreamer_config",
    "kl_categorical",
    "lambda_returns",
    "symexp",
    "symlog",
]
