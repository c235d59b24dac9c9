"""Frozen configuration dataclasses for the Dreamer agent, with the presets ``debug``, ``cpu`` and ``paper``.

Every component receives its own sub-config. Variants are
configurations, not subclasses: which observation keys the world model *encodes* and which it
*decodes* decides whether an agent is the Oracle, Dreamer (with or without DR) or State Recon::

    Oracle      encode=("state",)   decode=("state",)
    Dreamer     encode=("pixels",)  decode=("pixels",)   # +-DR is the env's ``randomization``
    State Recon encode=("pixels",)  decode=("state",)

Example:
    >>> cfg = dreamer_config("debug", encode=("state",), decode=("state",))
    >>> cfg.world_model.rssm.stoch, cfg.behavior.horizon
    (8, 15)
    >>> dreamer_config("paper").world_model.encoder.mlp_units
    512
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from twist_agents.presets import PRESETS as PRESETS  # re-exported: the names dreamer_config accepts
from twist_agents.presets import check_preset


@dataclass(frozen=True)
class RSSMConfig:
    """Recurrent state-space model (Eq. 1 of the TWIST paper; DreamerV2/V3 categorical latents)."""

    deter: int = 512
    """Size of the deterministic GRU state ``h_t``."""
    stoch: int = 32
    """Number of categorical latent variables in ``z_t``."""
    classes: int = 32
    """Number of classes of each categorical latent."""
    hidden: int = 512
    """Width of the layers before the GRU and of the prior / posterior heads."""
    unimix: float = 0.01
    """DreamerV3 *unimix*: mix this fraction of a uniform distribution into every categorical, so that
    no class gets probability zero and KL terms stay bounded."""
    act: str = "silu"
    """Activation of the RSSM's MLP layers (``"silu"`` or ``"elu"``)."""


@dataclass(frozen=True)
class EncoderConfig:
    """Encoders by observation key: an MLP for vector keys ("state"), a CNN for image keys ("pixels")."""

    mlp_layers: int = 3
    """Hidden layers of the vector (state) encoder."""
    mlp_units: int = 512
    """Units per hidden layer of the vector encoder (the paper's teacher: 3 x 512, ELU)."""
    cnn_depth: int = 32
    """Channels of the first conv layer; doubled at each of the 4 stride-2 layers (64x64 -> 4x4)."""
    act: str = "elu"
    """Activation of encoder layers (the paper's teacher uses ELU)."""
    symlog_inputs: bool = True
    """DreamerV3 *symlog* on vector inputs: ``sign(x) * log(1 + |x|)`` squashes large state values."""


@dataclass(frozen=True)
class DecoderConfig:
    """Decoders by observation key: MLP for vector keys, transposed CNN for image keys."""

    mlp_layers: int = 3
    """Hidden layers of the vector (state) decoder."""
    mlp_units: int = 512
    """Units per hidden layer of the vector decoder."""
    cnn_depth: int = 32
    """Channels of the last transposed-conv stage (mirror of :attr:`EncoderConfig.cnn_depth`)."""
    act: str = "elu"
    """Activation of decoder layers."""
    symlog_targets: bool = True
    """DreamerV3 *symlog* squared error for vector targets (predict ``symlog(x)``)."""


@dataclass(frozen=True)
class HeadConfig:
    """An MLP head on the latent feature ``concat(h_t, z_t)`` (reward, continue, critic)."""

    layers: int = 2
    """Hidden layers."""
    units: int = 512
    """Units per hidden layer."""
    act: str = "silu"
    """Activation."""
    bins: int = 255
    """Number of two-hot bins (DreamerV3 *two-hot* regression in symlog space); unused by Bernoulli heads."""


@dataclass(frozen=True)
class WorldModelConfig:
    """World model: which keys to encode / decode, its parts, and the loss weights (DreamerV3)."""

    encode: tuple[str, ...] = ("state",)
    """Observation keys the encoder sees (the posterior's input ``x_t``)."""
    decode: tuple[str, ...] = ("state",)
    """Observation keys the decoder reconstructs."""
    rssm: RSSMConfig = field(default_factory=RSSMConfig)
    """Latent dynamics."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Encoders."""
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    """Decoders."""
    reward_head: HeadConfig = field(default_factory=HeadConfig)
    """Reward predictor ``p(r_t | h_t, z_t)`` (two-hot symlog)."""
    cont_head: HeadConfig = field(default_factory=HeadConfig)
    """Continue predictor ``p(c_t | h_t, z_t)`` with ``c_t = 1 - is_terminal``."""
    kl_free: float = 1.0
    """Free bits (nats, on the KL summed over latents): KL terms below this are not penalised."""
    kl_dyn_scale: float = 0.5
    """KL balancing: weight of ``KL[sg(q) || p]`` (trains the prior towards the posterior)."""
    kl_rep_scale: float = 0.1
    """KL balancing: weight of ``KL[q || sg(p)]`` (regularises the posterior towards the prior)."""
    lr: float = 1e-4
    """Adam learning rate of the world model."""
    eps: float = 1e-8
    """Adam epsilon."""
    grad_clip: float = 1000.0
    """Global gradient-norm clip of the world model."""
    standardize_vectors: bool = False
    """Standardise every vector key per dimension, ``(x - mean) / max(std, standardize_floor)``, before the
    encoder's symlog and as the decoder's target, with statistics fitted once on the first training batch and
    frozen (saved with the model). Off by default (DreamerV3 relies on symlog alone). Symlog leaves a dimension
    whose informative changes are small in its own units (a cube's position moving by 2 cm, 0.02 m) with a
    reconstruction loss ~1e-4, too small for the model to learn it; standardising gives every dimension an
    equal share of the loss. :class:`~twist_agents.dreamer.networks.Standardizer` does the work."""
    standardize_floor: float = 0.01
    """Smallest per-dimension scale of :attr:`standardize_vectors`, in the vector's own units, so that a dimension
    constant in the first batch (a goal's height) is not blown up when it later moves."""


@dataclass(frozen=True)
class BehaviorConfig:
    """Actor-critic trained on imagined rollouts (DreamerV3 behaviour learning)."""

    horizon: int = 15
    """Imagination horizon ``H`` (the paper: 15)."""
    imag_starts: int = 0
    """Imagine from at most this many posterior states of the batch, drawn at random (0: all ``B * T``
    states, as DreamerV3). Fewer starts make a CPU update much cheaper."""
    gamma: float = 0.997
    """Discount factor (DreamerV3: ``1 - 1/333``)."""
    lam: float = 0.95
    """Lambda of the lambda-returns."""
    actor_layers: int = 3
    """Hidden layers of the actor MLP (the paper: 3 x 512 ELU)."""
    actor_units: int = 512
    """Units per hidden layer of the actor."""
    critic_layers: int = 3
    """Hidden layers of the critic MLP."""
    critic_units: int = 512
    """Units per hidden layer of the critic."""
    act: str = "elu"
    """Activation of actor and critic."""
    bins: int = 255
    """Two-hot bins of the critic (symlog space)."""
    actor_lr: float = 3e-5
    """Adam learning rate of the actor."""
    critic_lr: float = 3e-5
    """Adam learning rate of the critic."""
    grad_clip: float = 100.0
    """Global gradient-norm clip of actor and of critic."""
    actor_grad: str = "dynamics"
    """``"dynamics"``: backpropagate returns through the learned dynamics (DreamerV1/V2 on continuous
    control, low variance); ``"reinforce"``: score-function gradient with the critic as baseline."""
    entropy: float = 3e-4
    """Actor entropy bonus (on normalised returns, DreamerV3)."""
    min_std: float = 0.1
    """Smallest action standard deviation of the actor."""
    max_std: float = 1.0
    """Largest action standard deviation of the actor."""
    slow_critic_fraction: float = 0.02
    """EMA rate of the slow target critic (updated every update)."""
    bootstrap: str = "slow"
    """Critic whose values bootstrap the lambda-returns: ``"slow"`` (target network, DreamerV2) or
    ``"online"`` (DreamerV3; the slow critic then only regularises)."""
    slow_critic_reg: float = 1.0
    """DreamerV3 regulariser: weight of the critic's cross-entropy towards the slow critic's prediction."""
    retnorm_decay: float = 0.99
    """EMA decay of the return scale ``S = EMA(P95 - P5)`` (DreamerV3 percentile return normalisation)."""
    retnorm_limit: float = 1.0
    """Returns are divided by ``max(limit, S)``: small returns are not scaled up (DreamerV3)."""


@dataclass(frozen=True)
class DreamerConfig:
    """Everything a :class:`~twist_agents.dreamer.agent.DreamerAgent` needs."""

    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    """World model."""
    behavior: BehaviorConfig = field(default_factory=BehaviorConfig)
    """Actor-critic."""
    device: str = "cpu"
    """Torch device (``"cpu"``, ``"cuda"``)."""
    preset: str = "paper"
    """Name of the preset this config was derived from (informational)."""


def dreamer_config(
    preset: str = "cpu",
    encode: tuple[str, ...] = ("state",),
    decode: tuple[str, ...] = ("state",),
    **overrides: object,
) -> DreamerConfig:
    """Build a :class:`DreamerConfig` from a named preset and the variant's encode / decode keys.

    Args:
        preset: ``"debug"`` (tiny, for tests), ``"cpu"`` (learns small tasks on a laptop CPU in
            minutes) or ``"paper"`` (the paper's scale: 3 x 512 ELU teacher MLPs, 32 x 32 latents).
        encode: observation keys the encoder sees.
        decode: observation keys the decoder reconstructs.
        **overrides: top-level :class:`DreamerConfig` fields to replace (e.g. ``device="cuda"``).

    Returns:
        The frozen config.

    Raises:
        ValueError: for an unknown preset or empty encode/decode.
    """
    check_preset(preset, "dreamer_config")
    if not encode or not decode:
        raise ValueError("dreamer_config: encode and decode must name at least one observation key")
    if preset == "paper":
        wm = WorldModelConfig()
        beh = BehaviorConfig()
    elif preset == "cpu":
        # Sized for 2 CPU cores: on 2 dedicated Xeon cores a full update (world model + 15-step
        # imagination from 64 starts) takes ~0.1 s. Measured on CartpoleBalance (state Oracle), these
        # small networks learned faster per wall-clock second than 128-unit ones (see the issue 3 note).
        wm = WorldModelConfig(
            rssm=RSSMConfig(deter=64, stoch=8, classes=8, hidden=64),
            encoder=EncoderConfig(mlp_layers=1, mlp_units=64, cnn_depth=16),
            decoder=DecoderConfig(mlp_layers=1, mlp_units=64, cnn_depth=16),
            reward_head=HeadConfig(layers=1, units=64, bins=63),
            cont_head=HeadConfig(layers=1, units=64),
            lr=1e-3,
        )
        beh = BehaviorConfig(
            # Imagine from a quarter of the B x T = 1024 posterior states: the actor-critic step costs
            # ~4x less than from all of them (DreamerV3), which buys twice the updates per env step.
            imag_starts=256,
            bins=63,
            actor_layers=2,
            actor_units=64,
            critic_layers=2,
            critic_units=64,
            actor_lr=3e-4,
            critic_lr=1e-3,
            gamma=0.99,
            # DreamerV3 bootstraps the lambda-returns from the online critic; the slow critic only
            # regularises. With the slow critic as bootstrap the value at 12k steps was ~4x below the
            # policy's real discounted return (the critic lagged the actor).
            bootstrap="online",
            slow_critic_fraction=0.1,
        )
    else:  # debug
        wm = WorldModelConfig(
            rssm=RSSMConfig(deter=64, stoch=8, classes=8, hidden=64),
            encoder=EncoderConfig(mlp_layers=1, mlp_units=64, cnn_depth=8),
            decoder=DecoderConfig(mlp_layers=1, mlp_units=64, cnn_depth=8),
            reward_head=HeadConfig(layers=1, units=64, bins=63),
            cont_head=HeadConfig(layers=1, units=64),
            lr=1e-3,
        )
        beh = BehaviorConfig(
            imag_starts=64,
            bins=63,
            actor_layers=2,
            actor_units=64,
            critic_layers=2,
            critic_units=64,
            actor_lr=3e-4,
            critic_lr=3e-4,
            gamma=0.99,
        )
    wm = dataclasses.replace(wm, encode=tuple(encode), decode=tuple(decode))
    cfg = DreamerConfig(world_model=wm, behavior=beh, preset=preset)
    return dataclasses.replace(cfg, **overrides) if overrides else cfg  # type: ignore[arg-type]


def config_from_dict(data: dict) -> DreamerConfig:
    """Rebuild a :class:`DreamerConfig` from ``dataclasses.asdict(config)`` (e.g. read from a checkpoint).

    Example:
        >>> cfg = dreamer_config("debug", encode=("pixels",), decode=("state",))
        >>> config_from_dict(dataclasses.asdict(cfg)) == cfg
        True
    """
    wm = dict(data["world_model"])
    wm["encode"], wm["decode"] = tuple(wm["encode"]), tuple(wm["decode"])
    wm["rssm"] = RSSMConfig(**wm["rssm"])
    wm["encoder"] = EncoderConfig(**wm["encoder"])
    wm["decoder"] = DecoderConfig(**wm["decoder"])
    wm["reward_head"] = HeadConfig(**wm["reward_head"])
    wm["cont_head"] = HeadConfig(**wm["cont_head"])
    rest = {k: v for k, v in data.items() if k not in ("world_model", "behavior")}
    return DreamerConfig(world_model=WorldModelConfig(**wm), behavior=BehaviorConfig(**data["behavior"]), **rest)
