r"""World-model distillation losses of TWIST: Eq. 3 (on dataset sequences) and Eq. 4 (on imagined rollouts).

Notation (paper, Sec. IV-B): teacher world model :math:`W_\phi` reads privileged states :math:`s_t`, student
:math:`W_\theta` reads domain-randomised images :math:`o_t`; both are RSSMs with the same latent shapes.

Eq. 3, on a sequence :math:`\tau = \{(a_t, o_t, s_t)\}_{t=k}^{k+L}` from the teacher's dataset
:math:`\mathcal{D}`::

    L_distil = sum_t  ||h_t^T - h_t^S||^2                                  (deterministic state)
                    + KL[ p_theta(z^_t^S | h_t^S) || p_phi(z^_t^T | h_t^T) ]     (prior)
                    + KL[ q_theta(z_t^S | h_t^S, o_t) || q_phi(z_t^T | h_t^T, s_t) ]  (posterior)

Eq. 4 / Algorithm 1 lines 6-11: both models start from their posteriors on :math:`\tau`; the teacher imagines
``H`` steps with its own actor plus Gaussian action noise; the student replays *the same actions*::

    L_imagined = sum_{i=1..H}  ||h_i^T - h_i^S||^2 + KL[ p_theta(z^_i^S | h_i^S) || p_phi(z^_i^T | h_i^T) ]

Timing: rows of a batch follow :mod:`twist_agents.dreamer.rssm` (``action[:, t]`` is :math:`a_{t-1}`)::

    dataset:   o_0,s_0   a_0   o_1,s_1   a_1   ...            both RSSMs filter the same (a, .) stream
    imagined:  start = posterior of row t  --a_t^T--> step 1 --a_{t+1}^T--> ... step H

Latents are taken at their *mode* (straight-through one-hot of the argmax) in both models: the targets are then
deterministic functions of the data, the loss is exactly zero for a student that equals the teacher, and the
student filters exactly as it does when it acts (``explore=False``). The teacher is frozen: it runs under
``torch.no_grad`` and no gradient reaches its parameters (Algorithm 1 updates only :math:`\theta`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from twist_agents.dreamer.behavior import frozen
from twist_agents.dreamer.rssm import State, kl_categorical
from twist_agents.dreamer.world_model import WorldModel
from twist_agents.twist.config import DistillConfig
from twist_agents.twist.student import StudentWorldModel


@dataclass
class DistillTerms:
    """The loss and its terms (scalars averaged over the batch; Eq. 3 summed over time, Eq. 4 over the horizon).

    Attributes:
        loss: Eq. 3 + Eq. 4 (with gradients to the student only).
        deter: Eq. 3, ``||h^T - h^S||^2``.
        prior: Eq. 3, ``KL[p_S || p_T]``.
        post: Eq. 3, ``KL[q_S || q_T]``.
        imag_deter: Eq. 4, ``||h^T - h^S||^2`` along the imagined rollouts (0 when imagination is off).
        imag_prior: Eq. 4, ``KL[p_S || p_T]`` along the imagined rollouts (0 when imagination is off).
        actions: ``(N, H, A)`` the teacher's (noisy) imagined actions, replayed by the student.
        action_match: ``||pi_T(h^T, z^T) - pi_T(h^S, z^S)||^2`` of the actor's modes on the dataset sequence
            (0 unless ``DistillConfig.action_match > 0``; not in the paper, see that field).
        teacher_forced: ``DistillConfig.teacher_forced``'s KL (not in the paper).
        state_aux: ``DistillConfig.state_aux``'s read-out error from the embedding (not in the paper).
        latent_aux: ``DistillConfig.latent_aux``'s read-out error of the teacher's decoder on the student's
            posterior features (not in the paper).
    """

    loss: torch.Tensor
    deter: torch.Tensor
    prior: torch.Tensor
    post: torch.Tensor
    imag_deter: torch.Tensor
    imag_prior: torch.Tensor
    actions: torch.Tensor | None
    action_match: torch.Tensor | None = None
    teacher_forced: torch.Tensor | None = None
    state_aux: torch.Tensor | None = None
    latent_aux: torch.Tensor | None = None

    def metrics(self) -> dict[str, float]:
        """Float metrics under ``distill/``."""
        names = (
            "loss",
            "deter",
            "prior",
            "post",
            "imag_deter",
            "imag_prior",
            "action_match",
            "teacher_forced",
            "state_aux",
            "latent_aux",
        )
        return {f"distill/{n}": float(getattr(self, n).detach()) for n in names if getattr(self, n) is not None}


def _sq_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared L2 distance over the last dim: ``(..., D) -> (...)``."""
    return (a - b).pow(2).sum(-1)


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Translate each sequence's frames by one random integer offset in ``[-max_shift, max_shift]`` per axis.

    The edge pixels repeat into the uncovered border (as padding by replication and cropping back). One offset
    per *sequence*, not per frame: a constant offset is what a slightly moved camera does (the Franka DR moves the
    camera once per episode), while a per-frame jitter would add motion that the RSSM reads as velocity.

    Args:
        images: ``(B, L, H, W, C)`` images (any dtype; uint8 stays uint8).
        max_shift: the largest offset in pixels; 0 returns ``images`` itself.
        generator: torch generator for the offsets.

    Returns:
        ``(B, L, H, W, C)`` shifted images.
    """
    if max_shift <= 0:
        return images
    b, _, h, w, _ = images.shape
    offsets = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=generator, device=images.device)
    rows = (torch.arange(h, device=images.device)[None] + offsets[:, :1]).clamp(0, h - 1)  # (B, H)
    cols = (torch.arange(w, device=images.device)[None] + offsets[:, 1:]).clamp(0, w - 1)  # (B, W)
    seq = torch.arange(b, device=images.device)[:, None]  # (B, 1)
    # Pick each sequence's rows, then its columns (advanced indexing pairs dim 0 with the permuted spatial dim).
    shifted = images.permute(0, 2, 1, 3, 4)[seq, rows]  # (B, H, L, W, C)
    shifted = shifted.permute(0, 3, 2, 1, 4)[seq, cols]  # (B, W, L, H, C)
    return shifted.permute(0, 2, 3, 1, 4)  # (B, L, H, W, C)


def random_conv(images: torch.Tensor, fraction: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pass a random ``fraction`` of the sequences through a random 3x3 convolution, one per sequence.

    Network randomisation (Lee et al., ICLR 2020): a random filter keeps the scene's geometry (edges, where the
    cube is) and scrambles its colours and textures, the images a student never saw in D. One filter per
    *sequence*, as the held-out appearances of the Franka envs stay fixed for an episode. Weights are drawn as
    Xavier-normal (``std = sqrt(2 / (27 + 27))``) and each filtered sequence is rescaled to ``[0, 255]`` (its own
    min and max), so the encoder sees inputs in its usual range at any filter gain.

    Args:
        images: ``(B, L, H, W, C)`` images in [0, 255] (uint8 or float), ``C`` = 3.
        fraction: the expected share of sequences filtered; 0 returns ``images`` itself.
        generator: torch generator for the choice and the filters.

    Returns:
        ``(B, L, H, W, C)`` float images in [0, 255] (``images`` itself when ``fraction`` is 0).
    """
    if fraction <= 0:
        return images
    b, steps, h, w, c = images.shape
    out = images.float()
    chosen = torch.rand(b, generator=generator, device=images.device) < fraction  # (B,)
    n = int(chosen.sum())
    if n == 0:
        return out
    std = (2.0 / (9 * c + 9 * c)) ** 0.5
    weight = torch.randn(n * c, c, 3, 3, generator=generator, device=images.device) * std  # (N*C, C, 3, 3)
    x = out[chosen].permute(1, 0, 4, 2, 3).reshape(steps, n * c, h, w) / 255.0  # (L, N*C, H, W), frames as a batch
    y = torch.nn.functional.conv2d(x, weight, padding=1, groups=n)  # (L, N*C, H, W): sequence i uses filter i
    y = y.reshape(steps, n, c, h, w).permute(1, 0, 3, 4, 2)  # (N, L, H, W, C)
    lo = y.amin(dim=(1, 2, 3, 4), keepdim=True)
    hi = y.amax(dim=(1, 2, 3, 4), keepdim=True)
    out[chosen] = 255.0 * (y - lo) / (hi - lo).clamp_min(1e-6)
    return out


def augment_student_images(
    s_obs: dict[str, torch.Tensor], config: DistillConfig, generator: torch.Generator | None = None
) -> dict[str, torch.Tensor]:
    """The student's image augmentations (not in the paper): ``conv_aug`` then ``shift_aug``, on ``"pixels"``."""
    if "pixels" not in s_obs:
        return s_obs
    pixels = random_conv(s_obs["pixels"], config.conv_aug, generator)
    return {**s_obs, "pixels": random_shift(pixels, config.shift_aug, generator)}


def teacher_rollout(
    teacher: WorldModel,
    actor: nn.Module,
    start: State,
    horizon: int,
    action_noise: float,
    generator: torch.Generator | None = None,
) -> tuple[State, torch.Tensor]:
    """Algorithm 1, ``Imagine(W_teacher, Z_teacher)``: roll the teacher's actor forward with action noise.

    Args:
        teacher: frozen teacher world model.
        actor: the teacher's actor, ``actor(feat) -> dist`` with ``.sample()``.
        start: ``(N, ...)`` teacher posterior states.
        horizon: ``H``.
        action_noise: standard deviation of the Gaussian noise added to the sampled actions ("to ensure
            diversity in the imagined trajectories", Sec. IV-B); 0 disables it (the ablation).
        generator: torch generator for the noise (reproducibility).

    Returns:
        ``(states (N, H + 1, ...), actions (N, H, A))``, start state at index 0.
    """
    rssm = teacher.rssm

    def policy(state: State) -> torch.Tensor:
        action = actor(rssm.get_feat(state)).sample()
        if action_noise > 0:
            noise = torch.randn(action.shape, generator=generator, device=action.device) * action_noise
            action = action + noise
        return action.clamp(-1.0, 1.0)

    with torch.no_grad():
        return rssm.imagine(start, policy, horizon, sample=False)


def state_aux_target(
    teacher: WorldModel, student: StudentWorldModel, state: torch.Tensor, config: DistillConfig
) -> torch.Tensor:
    """The target of :attr:`~twist_agents.twist.config.DistillConfig.state_aux`, in its ``state_aux_units``.

    Paired states ``(B, L, ...)`` -> ``(B, L, len(state_aux_dims) or S)``. In ``"data"`` units it also feeds the
    student's running standardiser (which pools D's first batches, then freezes).
    """
    target = state.float().flatten(2)  # (B, L, S)
    # Standardised per dimension: in metres a centimetre of the Franka cube's position would cost ~1e-4
    # beside joint velocities of order 1, the scale problem standardize_vectors fixes for the teacher.
    if config.state_aux_units == "teacher":
        standardizer = getattr(teacher.encoder, "standardizer", None)
        if standardizer is not None and standardizer.mean.shape[0] == target.shape[-1]:
            target = standardizer(target)
    if config.state_aux_dims:  # only the chosen state dimensions (see DistillConfig.state_aux_dims)
        target = target[..., list(config.state_aux_dims)]  # (B, L, len(dims))
    if config.state_aux_units == "data" and student.state_aux_norm is not None:
        student.state_aux_norm.update(target)  # pools the first batches of D, then frozen
        target = student.state_aux_norm(target)
    return target


def readout_pretrain_loss(
    teacher: WorldModel,
    student: StudentWorldModel,
    batch: Mapping[str, torch.Tensor],
    config: DistillConfig,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Not in the paper: the ``state_aux`` read-out alone (``DistillConfig.readout_pretrain``).

    On ``(B, L, ...)`` frames of D (usually ``L`` = 1). Same target, units and image shifts as in
    :func:`distillation_loss`; gradients reach the student's encoder and ``state_head`` only.
    """
    if student.state_head is None:
        raise ValueError("DistillConfig.readout_pretrain > 0 needs a student built with aux_dim (its state_head)")
    # not in the paper: DistillConfig.conv_aug and shift_aug
    s_obs = augment_student_images({k: batch[k] for k in student.encode}, config, generator)
    target = state_aux_target(teacher, student, batch["state"], config)
    return _sq_dist(student.state_head(student.encoder(s_obs)), target).sum(1).mean()


def distillation_loss(
    teacher: WorldModel,
    teacher_actor: nn.Module,
    student: StudentWorldModel,
    batch: Mapping[str, torch.Tensor],
    config: DistillConfig,
    generator: torch.Generator | None = None,
) -> DistillTerms:
    """TWIST's world-model distillation loss, Eq. 3 + Eq. 4 (Algorithm 1, lines 4-11).

    Args:
        teacher: the frozen teacher world model (encodes ``teacher.config.encode``, e.g. ``"state"``).
        teacher_actor: the teacher's actor (drives Eq. 4's imagination).
        student: the student world model (encodes e.g. ``"pixels"``); its latent shapes equal the teacher's.
        batch: ``(B, L, ...)`` tensors with both models' observation keys plus ``action`` (:math:`a_{t-1}`,
            in [-1, 1]) and ``is_first``.
        config: sequence/horizon, noise, and the ablation switches.
        generator: torch generator for start-state subsampling and action noise.

    Returns:
        :class:`DistillTerms` (``loss`` carries gradients to the student only).
    """
    action = batch["action"].float()
    is_first = batch["is_first"]
    # --- Eq. 3: filter the same sequence through both models (Algorithm 1 lines 5-7) --------------------
    with torch.no_grad():
        t_embed = teacher.encoder({k: batch[k] for k in teacher.config.encode})  # (B, L, E_T)
        t_post, t_prior = teacher.rssm.observe(t_embed, action, is_first, sample=False)
    # not in the paper: DistillConfig.conv_aug and shift_aug
    s_obs = augment_student_images({k: batch[k] for k in student.encode}, config, generator)
    s_embed = student.encoder(s_obs)  # (B, L, E_S)
    s_input = student.posterior_input(s_embed)  # (B, L, E_S [+ aux]): DistillConfig.readout_feed adds the read-out
    s_post, s_prior = student.rssm.observe(s_input, action, is_first, sample=False)

    deter = _sq_dist(t_post["deter"], s_post["deter"]).sum(1).mean()  # sum over t, mean over batch
    prior = kl_categorical(s_prior["logits"], t_prior["logits"]).sum(1).mean()
    post = kl_categorical(s_post["logits"], t_post["logits"]).sum(1).mean()
    loss = deter + prior + post
    zero = loss.new_zeros(())
    action_match = zero
    if config.action_match > 0:
        # The frozen teacher actor on both feature streams: the student's latents must make it act the same.
        with torch.no_grad():
            t_act = teacher_actor(teacher.rssm.get_feat(t_post)).mode()  # (B, L, A)
        with frozen(teacher_actor):  # gradients flow through the actor to the student, never into it
            s_act = teacher_actor(student.rssm.get_feat(s_post)).mode()
        action_match = _sq_dist(t_act, s_act).sum(1).mean()
        loss = loss + config.action_match * action_match
    teacher_forced = zero
    if config.teacher_forced > 0:
        # The student's posterior head fed the *teacher's* h (B, L, D) with its own embedding: a per-step target
        # that needs no credit assignment through the recurrence (see DistillConfig.teacher_forced).
        tf_logits, _ = student.rssm._dist(student.rssm.post_net(torch.cat([t_post["deter"], s_input], -1)))
        teacher_forced = kl_categorical(tf_logits, t_post["logits"]).sum(1).mean()
        loss = loss + config.teacher_forced * teacher_forced
    state_aux = zero
    target = None
    if config.state_aux > 0:
        if student.state_head is None:
            raise ValueError("DistillConfig.state_aux > 0 needs a student built with aux_dim (its state_head)")
        # A linear read-out of the paired state from each frame's embedding (see DistillConfig.state_aux).
        target = state_aux_target(teacher, student, batch["state"], config)  # (B, L, len(dims) or S)
        state_aux = _sq_dist(student.state_head(s_embed), target).sum(1).mean()
        loss = loss + config.state_aux * state_aux
    latent_aux = zero
    if config.latent_aux > 0:
        # The teacher's frozen state decoder on the student's posterior features: the latent, which the actor reads,
        # must carry the positions in the teacher's code (see DistillConfig.latent_aux). Gradients reach the
        # student through the features; the decoder's parameters are frozen with the rest of the teacher.
        if config.state_aux <= 0 or config.state_aux_units != "data" or student.state_aux_norm is None:
            raise ValueError("DistillConfig.latent_aux > 0 needs state_aux > 0 with state_aux_units='data'")
        decoded = teacher.heads["decoder"].reconstruct(student.rssm.get_feat(s_post))["state"].flatten(2)  # (B, L, S)
        if config.state_aux_dims:
            decoded = decoded[..., list(config.state_aux_dims)]  # (B, L, len(dims))
        latent_aux = _sq_dist(student.state_aux_norm(decoded), target).sum(1).mean()
        loss = loss + config.latent_aux * latent_aux
    imag_deter, imag_prior, actions = zero, zero, None

    # --- Eq. 4: distillation in imagination (Algorithm 1 lines 8-11) ------------------------------------
    if config.imagined:
        t_start = {k: v.flatten(0, 1) for k, v in t_post.items()}  # (B*L, ...)
        s_start = {k: v.flatten(0, 1) for k, v in s_post.items()}
        n = t_start["deter"].shape[0]
        if 0 < config.imag_starts < n:
            idx = torch.randperm(n, generator=generator, device=action.device)[: config.imag_starts]
            t_start = {k: v[idx] for k, v in t_start.items()}
            s_start = {k: v[idx] for k, v in s_start.items()}
        noise = config.action_noise if config.noisy_actions else 0.0
        t_states, actions = teacher_rollout(teacher, teacher_actor, t_start, config.horizon, noise, generator)
        # The student replays exactly the teacher's action sequence A^teacher (Algorithm 1 line 10).
        s_states, _ = student.rssm.imagine(s_start, actions, config.horizon, sample=False)
        imag_deter = _sq_dist(t_states["deter"][:, 1:], s_states["deter"][:, 1:]).sum(1).mean()
        imag_prior = kl_categorical(s_states["logits"][:, 1:], t_states["logits"][:, 1:]).sum(1).mean()
        loss = loss + config.imagined_scale * (imag_deter + imag_prior)
    return DistillTerms(
        loss, deter, prior, post, imag_deter, imag_prior, actions, action_match, teacher_forced, state_aux, latent_aux
    )
