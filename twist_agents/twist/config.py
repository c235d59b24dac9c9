"""Configuration of TWIST's distillation (frozen dataclasses with presets ``debug`` / ``cpu`` / ``paper``).

Example:
    >>> cfg = distill_config("paper")
    >>> cfg.seq_len, cfg.horizon, cfg.imagined, cfg.noisy_actions
    (50, 15, True, True)
    >>> distill_config("cpu", imagined=False).imagined  # the paper's "w/o imagined distillation" ablation
    False
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from twist_agents.presets import PRESETS


@dataclass(frozen=True)
class DistillConfig:
    """Student distillation (Algorithm 1)."""

    seq_len: int = 50
    """``L``: length of the dataset sequences of Eq. 3 (the paper: 50)."""
    horizon: int = 15
    """``H``: imagination horizon of Eq. 4 (the paper: 15)."""
    batch_size: int = 16
    """Sequences per update."""
    updates: int = 10_000
    """Gradient updates of the student."""
    lr: float = 3e-4
    """Adam learning rate of the student."""
    eps: float = 1e-8
    """Adam epsilon."""
    grad_clip: float = 100.0
    """Global gradient-norm clip."""
    imagined: bool = True
    """Add Eq. 4 (distillation on imagined rollouts). ``False`` is the paper's "w/o imagined distillation"."""
    noisy_actions: bool = True
    """Add Gaussian noise to the teacher's imagined actions. ``False`` is the paper's "w/o random noise"."""
    action_noise: float = 0.3
    """Standard deviation of that noise (actions live in [-1, 1]; the paper does not state its value)."""
    imag_starts: int = 0
    """Imagine from at most this many of the ``B * L`` posterior states (0: all), to bound Eq. 4's cost."""
    imagined_scale: float = 1.0
    """Weight of Eq. 4 relative to Eq. 3 (Algorithm 1: 1)."""
    action_match: float = 0.0
    """Weight of an extra term that is *not* in the paper: ``||pi_T(feat^T) - pi_T(feat^S)||^2`` summed over the
    sequence, the frozen teacher actor's modes on teacher and student latents. Measured on cartpole with the
    ``cpu`` sizes: small latent errors (~25% of the 8 categorical latents with a different argmax) moved the
    actor's output by ~0.35 on the teacher's own trajectory, and the closed loop diverged. 0 disables it."""
    cnn_depth: int = 0
    """Channels of the student's first conv layer (doubled at each of the 4 layers); 0: the teacher's
    ``EncoderConfig.cnn_depth``. The student's encoder is the only part of it that sees pixels."""
    rssm_hidden: int = 0
    """Width of the student RSSM's MLP layers (before the GRU, prior and posterior heads); 0: the teacher's
    ``RSSMConfig.hidden``. Only the latent *shapes* (deter, stoch, classes) must equal the teacher's: the
    student's posterior does more work than the teacher's (it infers velocities from images). Measured on
    cartpole with pushes in D: 256 gave 177 after 1000 updates (seed 0) against 214 with the teacher's 64."""
    teacher_forced: float = 0.0
    """Weight of an extra term that is *not* in the paper: ``KL[q_theta(z | h^T, o) || q_phi(z | h^T, s)]``, the
    student's posterior head fed the teacher's ``h`` (teacher forcing). Eq. 3's posterior term feeds the
    student's own ``h``, so early in training the head learns from inputs that are still wrong; this term
    is a per-step image -> latent target. 0 disables it. Measured with ``init_from_teacher`` on cartpole: 475,
    431 after 500, 1000 updates (seed 0), against 454, 460 without it: no gain, so off."""
    init_from_teacher: bool = False
    """Start the student's RSSM from the teacher's: sequence model (GRU and its input layer), prior head, and the
    posterior head except the columns that read the embedding (the student's encoder is new). The paper does
    not say how the student starts; the teacher's dynamics are the target of Eq. 3 and Eq. 4, so starting
    there leaves the student to learn what differs: images -> the teacher's latents. Needs ``rssm_hidden`` 0
    (or equal to the teacher's). Measured (shipped cartpole teacher, 10k expert steps, held-out appearances):
    454, 491 on seeds 0, 1 after 500 updates, against 339 from a fresh RSSM after 1500."""
    state_aux: float = 0.0
    """Weight of an extra term that is *not* in the paper: ``||W e_theta(o_t) - s_t||^2`` summed over the sequence,
    a linear read-out of the paired privileged state from the student's image embedding (``W`` is trained with
    the student and unused when acting). Eq. 3 reaches the encoder only through the posterior's discrete
    latents; this gives it a dense, per-frame target for the physical quantities the teacher's latents encode.
    Needs ``state`` in the dataset (TWIST's D always has it). The target's units are :attr:`state_aux_units`.
    0 disables it."""
    state_aux_units: str = "data"
    """Units of :attr:`state_aux`'s target. ``"data"``: standardised per dimension with statistics pooled over the
    student's first 100 batches of D (:class:`~twist_agents.dreamer.networks.RunningStandardizer`, saved with the
    student), so answering the mean costs ~1 per dimension and step. ``"teacher"``: the teacher encoder's
    standardised units when its world model standardises the state (``WorldModelConfig.standardize_vectors``),
    else raw. Those are fitted on the teacher's first batch: on the Franka push teacher the cube's orientation
    barely moved there (``block_quat`` w: scale 0.01 against a std of 0.14 in D), so that one dimension gave
    ~240 of the ~315 per step that answering the mean cost, and the term swamped Eq. 3 (measured: no gain)."""
    state_aux_dims: tuple[int, ...] = ()
    """Indices into the flat state that :attr:`state_aux` regresses; empty: all of them. On the Franka tasks the
    state has 34 floats of which the cube's position is 3 (``twist_envs.franka.sim.STATE_LAYOUT``), so with all
    of them the read-out's gradient is mostly about the arm, which fills the frame; the supervised probe that
    reads the cube to 4-7 cm regresses only the cube's and the tool tip's positions."""
    latent_aux: float = 0.0
    """Weight of an extra term that is *not* in the paper: the frozen teacher's state decoder reads the student's
    posterior features, ``||n(dec_T(h^S_t, z^S_t)) - n(s_t)||^2`` on :attr:`state_aux_dims`, summed over the
    sequence (``n``: :attr:`state_aux`'s standardiser in data units, so its cost per dimension is as that term's).
    :attr:`state_aux` trains the *encoder* to see the cube; the teacher's actor reads the *latent*, and on the
    Franka push student the teacher's decoder read the cube from the latent 8-12 cm off where the encoder's head
    read it to 6-7 cm. Eq. 3 matches the teacher's latent through the posterior's discrete categoricals; this is a
    dense target for the part of that latent the teacher's decoder turns into positions, and its gradient reaches
    the posterior and the encoder (the teacher stays frozen). Needs :attr:`state_aux` > 0 with ``state_aux_units``
    ``"data"`` (it shares that term's dimensions and standardiser) and a teacher that decodes ``state``. 0
    disables it. Measured at weight 5 (BlockPush, 25 minutes, seeds 2 / 3): the latent's cube read-out on training
    appearances 5.8 / 5.7 cm (without the term 8.9 / 5.1), on held-out ones 9.1 / 11.3 (12.3 / 8.2); held-out
    success 1/20, 1/20 (0/20, 1/20): it catches up with the encoder on the appearances it was trained on only."""
    shift_aug: int = 0
    """Not in the paper: translate the student's training images by up to this many pixels, one random offset per
    sequence (:func:`~twist_agents.twist.losses.random_shift`); 0 disables it. The Franka BlockPush student's
    read-out of the cube (``state_aux_dims`` on the positions) fits D's own frames to 3.7-3.8 cm but scripted
    pushes on the same appearances only to 8.7-8.8 cm: it memorises D's ~530 episodes rather than seeing the cube,
    the overfitting image shifts counter in pixel-based RL (DrQ, RAD). With 4 pixels the gap closed (D 5.3-6.2 cm,
    scripted 6.1-7.8 cm after as many minutes) and the read-out improved with twice the updates (5.7-6.0 cm);
    with three times, D's fit kept falling (3.9-4.2 cm) but the scripted pushes' did not (5.7-6.3 cm): the shift
    delays the memorising, it does not end it."""
    conv_aug: float = 0.0
    """Not in the paper: the share of the student's training sequences passed through a random 3x3 convolution,
    one filter per sequence (:func:`~twist_agents.twist.losses.random_conv`, network randomisation), before
    :attr:`shift_aug`; in both the distillation and :attr:`readout_pretrain`. 0 disables it. Why: the Franka
    BlockPush students (read-out pretraining, all of D cached, 30 minutes, seeds 2 / 3) succeed in 5/20 and 5/20
    trials drawn with the *training* appearances but in 0/20 and 1/20 of the same trials with the held-out texture
    families (their teachers: 9/20, 12/20 on state): most of what they lose is generalisation to unseen looks, which
    a random filter of D's images imitates. Measured at 0.5 on those students (30 minutes, seeds 2 / 3): worse.
    The filters wash out the 2-3 pixel cube, the read-out fits D's frames to 4.9 / 6.0 cm (3.7 / 4.1 without),
    success on the training appearances falls to 0/20, 1/20 and held-out returns to 43.0 / 49.4 (48.5 / 64.2;
    held-out success 0/20, 2/20 against 0/20, 1/20). Only the held-out read-out of scripted pushes improved a
    little (latent 5.6 / 6.8 cm against 6.1 / 11.0)."""
    readout_pretrain: int = 0
    """Not in the paper: before the first distillation update, this many updates of the student's encoder and
    ``state_head`` on the :attr:`state_aux` read-out alone (:func:`~twist_agents.twist.losses.readout_pretrain_loss`),
    each on :attr:`readout_pretrain_batch` single frames drawn from all of D, which it holds in RAM meanwhile (Franka
    BlockPush: 1.9 MB per episode, 2.4 GB for 1284); 0 disables it. They count against the
    distillation's time limit, not against :attr:`updates`. Needs :attr:`state_aux` > 0. Why: on Franka BlockPush a
    supervised read-out of the cube by the same encoder reaches 3-6 cm on held-out appearances in 10k steps of 64
    frames (``benchmarks/franka_perception.py``), while the distilled students' encoders, fed 400 frames of 40
    scenes per update, still misread D's own frames by 5-6 cm after 1250 updates: they underfit the read-out.
    Measured with 5000 (BlockPush, seeds 2 / 3, 30 minutes in all against 25 without): D's frames 3.9 / 4.5 cm
    (6.2 / 6.5), the latent's read-out on the student's own training-look episodes 3.8 / 3.5 cm (7.8 / 8.7),
    held-out returns 52.7 / 65.2 (48.0 / 44.0), success 0/20, 2/20 (1/20, 1/20); the same trials on the training
    appearances 6/20, 7/20 (0/20, 2/20). 20000 instead of 5000 (``readout_feed`` students, seeds 4 / 5, 40 minutes
    each, 100 held-out trials): D's frames 2.3 / 2.5 cm (3.0 / 3.3), held-out success 18/100, 29/100 (12/100,
    10/100), with ~1900 fewer distillation updates in the same time."""
    readout_pretrain_batch: int = 64
    """Frames per :attr:`readout_pretrain` update."""
    readout_pretrain_focus: float = 0.0
    """Not in the paper: the share of each :attr:`readout_pretrain` batch drawn from D's episodes with the highest
    returns (the top :attr:`readout_pretrain_focus_top` of them), the rest from all of D as before; 0 disables it.
    Why: the student acts like the *final* teacher, so its read-out matters most on the states that teacher
    reaches, and D, collected while the teacher learned, holds few of them. On Franka BlockPush (seed 4's D, 1178
    episodes) the cube lies within 6 cm of the goal in 13% of D's frames, in 48% of the top quarter's by return and
    in 40-48% of the final teacher's steps; the pretrained head misreads the cube most there (7.3 cm root mean
    square within 3 cm of the goal against 3.3 cm at 6-10 cm). Measured at 0.5 with 20000 pretraining updates
    (``readout_feed`` students, seeds 4 / 5, 40 minutes, 100 held-out trials; without it in brackets): the head's
    error near the goal on the true-state teacher's episodes 4.1 / 3.8 cm (6.0 / 4.0), the teacher handed the head's
    cube 27/100, 36/100 (22/100, 33/100), the students 26/100, 23/100 (18/100, 29/100): the reading improved on one
    seed, success within the noise. With 40000 pretraining updates as well (60 minutes): the error near the goal
    3.2 / 3.5 cm, the bound 34/100, 29/100, the students 21/100, 29/100; the 20000-update ones resumed to the same
    60 minutes (twice the distillation updates) 29/100, 30/100."""
    readout_pretrain_focus_top: float = 0.25
    """The share of D's episodes, by return, that :attr:`readout_pretrain_focus` draws from (at least one)."""
    readout_feed: bool = False
    """Not in the paper: the student's posterior reads the :attr:`state_aux` read-out (``state_head``'s standardised
    estimate of :attr:`state_aux_dims`, detached) beside the image embedding, in distillation and when acting
    (:meth:`~twist_agents.twist.student.StudentWorldModel.posterior_input`). Needs :attr:`state_aux` > 0. Why: on
    Franka BlockPush with held-out appearances the linear read-out from the encoder finds the cube to 2.3-4.6 cm,
    the latent the teacher's actor reads only to 6.7-9.2 cm: the posterior's MLP reads the embedding in a way fitted
    to D's appearances, and a few supervised numbers are an input that carries over to new ones. The teacher's
    posterior reads the state itself, so this gives the student's the nearest thing it has. Measured (BlockPush, D of
    nine texture families and 256 textures, read-out pretraining, 30 minutes, seeds 2 / 3, 200 held-out trials):
    success 34/200, 33/200 against 27/200, 25/200 without it, the latent's cube error on held-out scripted pushes
    5.8 / 5.4 cm against 7.1 / 7.9. Better on both seeds, not proven (paired on the same trials, 55 solved only by
    the fed students against 40 only by the others: p = 0.15)."""
    readout_only: bool = False
    """Not in the paper: with :attr:`readout_feed`, the posterior reads the read-out *instead of* the embedding, so
    the images reach the latent only as :attr:`state_aux_dims`' supervised estimate and the rest of the state
    (e.g. the arm's joints, which the actions drive) comes from the sequence model. The encoder then learns from
    :attr:`state_aux` alone (the fed read-out is detached): a supervised perception module under the distilled
    filter. Needs :attr:`readout_feed`. Measured as :attr:`readout_feed` (positions only): held-out success 2/100,
    4/100, training appearances 0/20 on both seeds: the posterior needs more of the image than those six numbers."""
    checkpoint_every: int = 250
    """Write a resumable checkpoint every this many updates."""
    log_every: int = 50
    """Average and log metrics every this many updates."""
    cache_episodes: int = 200
    """Episodes the sequence sampler keeps in RAM. Below the number of episodes in D, most sequences of a batch load
    and decompress an episode: on Franka BlockPush's D of 1284 episodes a batch of 40 took 0.74 s at 200, 0.047 s
    with all of D cached (~1.9 MB per episode). Caching all of D there (4000, read-out pretraining on, seeds 2 / 3)
    gave 1494 / 1509 distillation updates in 30 minutes against 970 / 987, but no better student (held-out success
    0/20, 1/20; on the training appearances 5/20, 5/20 against 6/20, 7/20)."""


def distill_config(preset: str = "cpu", **overrides: object) -> DistillConfig:
    """A :class:`DistillConfig` for a preset, with field overrides.

    Raises:
        ValueError: unknown preset.
    """
    if preset not in PRESETS:
        raise ValueError(f"distill_config: unknown preset {preset!r}; choose one of {PRESETS}")
    base = {
        "paper": DistillConfig(),
        # This machine: the student's conv encoder dominates (no decoder: that is TWIST's saving).
        # Starting from the teacher's dynamics and stopping at 500 updates: measured on the shipped cartpole teacher,
        # held-out returns 454, 491 (seeds 0, 1) vs 339 from a fresh RSSM after 1500 updates; at 1000 updates
        # 460, 397, at 2000 405 (seed 0): the narrow expert dataset is fitted early and more updates do not help.
        "cpu": DistillConfig(
            batch_size=8, updates=500, lr=6e-4, imag_starts=256, checkpoint_every=250, init_from_teacher=True
        ),
        "debug": DistillConfig(
            seq_len=16, horizon=5, batch_size=4, updates=60, lr=1e-3, imag_starts=32, checkpoint_every=20, log_every=10
        ),
    }[preset]
    return dataclasses.replace(base, **overrides) if overrides else base  # type: ignore[arg-type]
