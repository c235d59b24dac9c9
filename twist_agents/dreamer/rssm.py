r"""Recurrent state-space model with categorical latents (Eq. 1 of the TWIST paper; DreamerV2/V3).

::

    Sequence model:        h_t = f(h_{t-1}, z_{t-1}, a_{t-1})      GRU, ``deter`` units
    Representation model:  z_t ~ q(z_t | h_t, x_t)                  posterior, ``stoch`` x ``classes``
    Dynamics predictor:    z^_t ~ p(z^_t | h_t)                     prior

A latent *state* is a dict of tensors with the same leading dims::

    {"deter": (..., D), "stoch": (..., S, C) one-hot sample, "logits": (..., S, C) unimix logits}

Timing convention (the off-by-one that bites). Row ``t`` of a stored sequence holds the observation
``o_t`` and the action ``a_{t-1}`` that *led into* it (zeros where ``is_first``)::

    env:      o_0 --a_0--> o_1 --a_1--> o_2 --a_2--> o_3
    row t:     0            1            2            3
    action:   0 (reset)    a_0          a_1          a_2      <- batch["action"][:, t]
    h_t:      h_0=f(init)  h_1=f(h_0,z_0,a_0)  h_2=f(h_1,z_1,a_1) ...
    z_t:      q(.|h_0,o_0) q(.|h_1,o_1)        ...

So ``observe(embed, action, is_first)`` feeds ``action[:, t]`` into the step that produces ``h_t``
(no shifting). At ``is_first`` the carried state and action are reset to :meth:`RSSM.initial` and
zeros. In imagination, ``img_step(state_t, a_t)`` returns the prior of step ``t + 1``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from twist_agents.dreamer.config import RSSMConfig
from twist_agents.dreamer.networks import MLP, linear

State = dict[str, torch.Tensor]
"""A latent state: ``{"deter": (..., D), "stoch": (..., S, C), "logits": (..., S, C)}``."""


def kl_categorical(lhs_logits: torch.Tensor, rhs_logits: torch.Tensor) -> torch.Tensor:
    """Exact ``KL[lhs || rhs]`` between factorised categoricals, summed over the ``S`` latents.

    Args:
        lhs_logits: ``(..., S, C)`` logits (normalised or not) of the first argument.
        rhs_logits: ``(..., S, C)`` logits of the second argument.

    Returns:
        ``(...)``: e.g. ``(B, T)`` for sequence inputs. Zero when the two distributions are equal.

    Example:
        >>> x = torch.randn(2, 3, 4, 5)
        >>> float(kl_categorical(x, x).abs().max()) < 1e-6
        True
    """
    lhs_logp = torch.log_softmax(lhs_logits, -1)
    rhs_logp = torch.log_softmax(rhs_logits, -1)
    return (lhs_logp.exp() * (lhs_logp - rhs_logp)).sum((-2, -1))


class GRUCell(nn.GRUCell):
    """:class:`torch.nn.GRUCell` (same parameters, same formula) with its two matrix products through :func:`linear`.

    The gate arithmetic follows PyTorch's CPU ``gru_cell`` operation for operation, so only the products'
    summation order differs from ``nn.GRUCell``.
    """

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """``(B, input_size)``, ``(B, hidden_size)`` -> next hidden state ``(B, hidden_size)``."""
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        i_r, i_z, i_n = linear(x, self.weight_ih, self.bias_ih).chunk(3, -1)
        h_r, h_z, h_n = linear(h, self.weight_hh, self.bias_hh).chunk(3, -1)
        reset = torch.sigmoid(h_r + i_r)
        update = torch.sigmoid(h_z + i_z)
        new = torch.tanh(i_n + h_n * reset)
        return (h - new) * update + new


class RSSM(nn.Module):
    """Recurrent state-space model with ``stoch`` categorical latents of ``classes`` classes each.

    DreamerV3 tricks used here: *unimix* (1% uniform mixed into prior and posterior) and
    straight-through one-hot samples for the categorical latents; LayerNorm + SiLU MLPs.

    Args:
        config: sizes.
        action_dim: size of the (continuous, or one-hot discrete) action vector.
        embed_dim: size of the encoder's embedding ``x_t`` (posterior input).
    """

    def __init__(self, config: RSSMConfig, action_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.config = config
        self.action_dim = action_dim
        self.embed_dim = embed_dim
        c = config
        self.stoch_flat = c.stoch * c.classes
        self.img_in = MLP(self.stoch_flat + action_dim, None, 1, c.hidden, c.act)
        self.gru = GRUCell(c.hidden, c.deter)
        self.prior_net = MLP(c.deter, self.stoch_flat, 1, c.hidden, c.act)
        self.post_net = MLP(c.deter + embed_dim, self.stoch_flat, 1, c.hidden, c.act)

    @property
    def feat_dim(self) -> int:
        """Size of :meth:`get_feat`'s output: ``deter + stoch * classes``."""
        return self.config.deter + self.stoch_flat

    # ------------------------------------------------------------------ helpers
    def initial(self, batch_size: int) -> State:
        """The all-zero state used at episode starts: ``deter (B, D)``, ``stoch``/``logits (B, S, C)``."""
        dev = self.gru.weight_hh.device
        c = self.config
        return {
            "deter": torch.zeros(batch_size, c.deter, device=dev),
            "stoch": torch.zeros(batch_size, c.stoch, c.classes, device=dev),
            "logits": torch.zeros(batch_size, c.stoch, c.classes, device=dev),
        }

    def get_feat(self, state: State) -> torch.Tensor:
        """The model feature ``concat(h, flatten(z))``: ``(..., D + S * C)``."""
        stoch = state["stoch"]
        return torch.cat([state["deter"], stoch.reshape(*stoch.shape[:-2], -1)], -1)

    def _logits(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw network output ``(..., S*C)`` -> unimix log-probabilities ``(..., S, C)``."""
        return self._dist(raw)[0]

    def _dist(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw output ``(..., S*C)`` -> ``(unimix logits, probabilities)``, each ``(..., S, C)``."""
        c = self.config
        logits = raw.reshape(*raw.shape[:-1], c.stoch, c.classes)
        probs = torch.softmax(logits, -1)
        if c.unimix > 0:
            probs = (1 - c.unimix) * probs + c.unimix / c.classes
            logits = torch.log(probs)
        return logits, probs

    @staticmethod
    def sample_stoch(logits: torch.Tensor, sample: bool = True, probs: torch.Tensor | None = None) -> torch.Tensor:
        """One-hot sample (or mode) of ``(..., S, C)`` logits with straight-through gradients.

        ``probs``: ``softmax(logits)`` when the caller has it (saves a softmax per RSSM step).
        """
        if probs is None:
            probs = torch.softmax(logits, -1)
        if sample:
            # Gumbel-max trick: an exact categorical sample, much cheaper than torch.multinomial.
            gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp_(1e-20, 1.0)))
            idx = (logits.detach() + gumbel).argmax(-1)
        else:
            idx = probs.argmax(-1)
        one_hot = F.one_hot(idx, probs.shape[-1]).to(probs.dtype)
        return one_hot + probs - probs.detach()

    def _posterior_inputs(self, embed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split the posterior net's first layer ``W [h; x]`` into ``W_h h + (W_x x)``; project the embedding.

        Returns ``(W_h, W_x x)``: the ``deter`` part of the weight and the embedding's projection ``(..., hidden)``,
        which :meth:`observe` computes for the whole sequence in one product instead of once per step.
        """
        first = self.post_net.hidden[0]
        deter = self.config.deter
        return first.weight[:, :deter].contiguous(), linear(embed, first.weight[:, deter:], first.bias)

    def _posterior(self, deter: torch.Tensor, w_deter: torch.Tensor, embed_proj: torch.Tensor) -> torch.Tensor:
        """Raw posterior output ``(B, S*C)`` from ``h_t`` and the step's :meth:`_posterior_inputs` projection."""
        x = linear(deter, w_deter) + embed_proj
        for layer in list(self.post_net.hidden)[1:]:
            x = layer(x)
        return self.post_net.out(x)

    # ------------------------------------------------------------------ steps
    def img_step(self, state: State, action: torch.Tensor, sample: bool = True) -> State:
        """Prior step ``h' = f(h, z, a)``, ``z^' ~ p(. | h')``: ``(B, ...)`` state, ``(B, A)`` action -> next state."""
        stoch = state["stoch"].reshape(*state["stoch"].shape[:-2], -1)
        x = self.img_in(torch.cat([stoch, action], -1))
        deter = self.gru(x, state["deter"])
        logits, probs = self._dist(self.prior_net(deter))
        return {"deter": deter, "stoch": self.sample_stoch(logits, sample, probs), "logits": logits}

    def obs_step(
        self,
        prev_state: State | None,
        prev_action: torch.Tensor,
        embed: torch.Tensor,
        is_first: torch.Tensor,
        sample: bool = True,
        reset: bool | None = None,
    ) -> tuple[State, State]:
        """One filtering step: prior from ``(prev_state, prev_action)``, posterior adds ``embed``.

        Args:
            prev_state: ``(B, ...)`` state of step ``t-1``, or ``None`` at the very start.
            prev_action: ``(B, A)`` action ``a_{t-1}`` (the one that led to ``o_t``).
            embed: ``(B, E)`` encoder output of ``o_t``.
            is_first: ``(B,)`` bool/float; where true, ``prev_state`` and ``prev_action`` are reset
                to :meth:`initial` / zeros first.
            sample: sample ``z`` (training, exploration) or take the mode (deterministic acting).
            reset: ``False`` promises that no ``is_first`` is set (skips the reset arithmetic);
                ``None`` checks nothing and always applies it.

        Returns:
            ``(post, prior)`` states of step ``t``, each ``(B, ...)``.
        """
        batch = embed.shape[0]
        if prev_state is None:
            prev_state = self.initial(batch)
        if reset is not False:
            # The initial state is all zeros, so resetting is a multiplication by (1 - is_first).
            keep = 1.0 - is_first.float().reshape(batch, 1)
            prev_state = {k: v * keep.reshape(batch, *([1] * (v.dim() - 1))) for k, v in prev_state.items()}
            prev_action = prev_action * keep
        prior = self.img_step(prev_state, prev_action, sample)
        logits, probs = self._dist(self._posterior(prior["deter"], *self._posterior_inputs(embed)))
        post = {"deter": prior["deter"], "stoch": self.sample_stoch(logits, sample, probs), "logits": logits}
        return post, prior

    def observe(
        self,
        embed: torch.Tensor,
        action: torch.Tensor,
        is_first: torch.Tensor,
        state: State | None = None,
        sample: bool = True,
    ) -> tuple[State, State]:
        """Filter a sequence: posteriors and priors for every step.

        Args:
            embed: ``(B, T, E)`` encoder outputs.
            action: ``(B, T, A)``; ``action[:, t]`` is ``a_{t-1}``, the action that led to ``o_t``
                (see the module docstring's timing diagram).
            is_first: ``(B, T)`` episode-start flags (reset the state there).
            state: ``(B, ...)`` state before the first step (``None``: :meth:`initial`).
            sample: sample the posterior latents (``False``: modes).

        Returns:
            ``(post, prior)``: dicts of ``(B, T, ...)`` tensors.
        """
        batch, steps = embed.shape[:2]
        if state is None:
            state = self.initial(batch)
        deter, stoch = state["deter"], state["stoch"].reshape(batch, -1)
        any_first = is_first.bool().any(0).tolist()  # one host sync instead of one per step
        keep = 1.0 - is_first.float()  # (B, T)
        w_deter, embed_proj = self._posterior_inputs(embed)  # the embedding's share, for all T at once
        deters, logits_seq, stochs = [], [], []
        for t in range(steps):
            prev_action = action[:, t]
            if any_first[t]:
                # The initial state is all zeros, so resetting is a multiplication by (1 - is_first).
                k = keep[:, t : t + 1]
                deter, stoch, prev_action = deter * k, stoch * k, prev_action * k
            # Only the recurrence and the posterior are sequential; the prior p(z^_t | h_t) is needed for
            # every step but feeds nothing forward, so it is computed for all T at once after the loop.
            deter = self.gru(self.img_in(torch.cat([stoch, prev_action], -1)), deter)
            logits, probs = self._dist(self._posterior(deter, w_deter, embed_proj[:, t]))
            post_stoch = self.sample_stoch(logits, sample, probs)
            deters.append(deter)
            logits_seq.append(logits)
            stochs.append(post_stoch)
            stoch = post_stoch.reshape(batch, -1)
        deter_all = torch.stack(deters, 1)  # (B, T, D)
        post = {"deter": deter_all, "stoch": torch.stack(stochs, 1), "logits": torch.stack(logits_seq, 1)}
        prior_logits, prior_probs = self._dist(self.prior_net(deter_all))  # (B, T, S, C)
        prior = {
            "deter": deter_all,
            "stoch": self.sample_stoch(prior_logits, sample, prior_probs),
            "logits": prior_logits,
        }
        return post, prior

    def imagine(
        self,
        start: State,
        policy: Callable[[State], torch.Tensor] | torch.Tensor,
        horizon: int,
        sample: bool = True,
    ) -> tuple[State, torch.Tensor]:
        """Roll the prior forward from ``start`` for ``horizon`` steps.

        Args:
            start: ``(N, ...)`` start state (e.g. flattened posteriors).
            policy: either a function ``state -> action (N, A)`` (called on each state, the start
                included) or a fixed action tensor ``(N, horizon, A)`` to replay.
            horizon: number of imagined steps ``H``.
            sample: sample prior latents (``False``: modes).

        Returns:
            ``(states, actions)``: states ``(N, H + 1, ...)`` with the start at index 0, and actions
            ``(N, H, A)`` where ``actions[:, i]`` was taken in ``states[:, i]`` and led to ``states[:, i + 1]``.
        """
        states = [start]
        actions = []
        state = start
        for i in range(horizon):
            action = policy(state) if callable(policy) else policy[:, i]
            state = self.img_step(state, action, sample)
            states.append(state)
            actions.append(action)
        stacked = {k: torch.stack([s[k] for s in states], 1) for k in start}
        return stacked, torch.stack(actions, 1)
