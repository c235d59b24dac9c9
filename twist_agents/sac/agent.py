"""Asymmetric SAC (Pinto et al., 2018) behind the :class:`~twist_agents.protocol.Agent` protocol.

A thin adapter over stable-baselines3's :class:`~stable_baselines3.SAC`: SB3 does the SAC maths
(twin critics, target networks, automatic entropy tuning) and its own environment loop; this module
only supplies the asymmetric policy (:mod:`twist_agents.sac.policy`), typed presets, the Agent
protocol (``act`` on one unbatched observation that needs only ``"pixels"``, ``update`` on a batch
of stored sequences, atomic ``save`` / ``load``) and the bound on replay memory.

Replay memory. SB3's ``DictReplayBuffer`` stores ``obs`` and ``next_obs`` separately
(``optimize_memory_usage`` is not supported for dict observations), so one transition at 64 x 64
costs 2 x 64 x 64 x 3 = 24,576 bytes of pixels plus a few hundred bytes of state/action/reward,
i.e. about 24.6 kB. We therefore bound ``buffer_size`` per preset:

=========  ===========  ==================================
preset     buffer_size  replay memory at 64 x 64 (pixels)
=========  ===========  ==================================
debug      1,000        ~25 MB
cpu        20,000       ~492 MB
paper      100,000      ~2,458 MB (2.5 GB)
=========  ===========  ==================================

The paper trains for 500K steps, so ``paper`` keeps the most recent 100K transitions (a FIFO window,
the common choice for pixel SAC, e.g. DrQ and CURL), not the whole run.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.type_aliases import DictReplayBufferSamples

from twist_agents.data.atomic import atomic_write
from twist_agents.presets import check_preset
from twist_agents.protocol import Observation
from twist_agents.sac.policy import AsymmetricSACPolicy

BYTES_PER_TRANSITION_64 = 2 * 64 * 64 * 3
"""Pixel bytes per stored transition at 64 x 64 (obs and next_obs are both stored by SB3)."""


@dataclass(frozen=True)
class AsymmetricSACConfig:
    """Hyper-parameters of asymmetric SAC (passed to :class:`stable_baselines3.SAC`)."""

    buffer_size: int = 20_000
    """Replay capacity in transitions; ~24.6 kB each at 64 x 64 (see the module docstring)."""
    learning_starts: int = 1_000
    """Environment steps of uniform-random actions before the first gradient update."""
    batch_size: int = 128
    """Transitions per gradient update."""
    learning_rate: float = 3e-4
    """Adam learning rate of actor, critics and entropy coefficient."""
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak coefficient of the target critics."""
    train_freq: int = 1
    """Environment steps between gradient phases."""
    gradient_steps: int = 1
    """Gradient updates per gradient phase."""
    ent_coef: str = "auto"
    """Entropy coefficient; ``"auto"`` tunes it to the target entropy -|A| (SAC v2)."""
    net_arch: tuple[int, ...] = (256, 256)
    """Hidden widths of the actor and critic MLP heads."""
    cnn_features_dim: int = 256
    """Width of the actor's CNN image features."""
    actor_key: str = "pixels"
    """Observation key the actor reads (the deployable input)."""
    critic_key: str = "state"
    """Observation key the critics read (privileged, simulation only)."""
    device: str = "cpu"
    """Torch device for SB3 (``"cpu"``, ``"cuda"`` or ``"auto"``)."""

    def replay_memory_mb(self, image_size: int = 64) -> float:
        """Approximate pixel memory of a full replay buffer in MB."""
        return self.buffer_size * 2 * image_size * image_size * 3 / 1e6


SAC_PRESETS: dict[str, AsymmetricSACConfig] = {
    "debug": AsymmetricSACConfig(
        buffer_size=1_000, learning_starts=50, batch_size=16, net_arch=(64, 64), cnn_features_dim=64
    ),
    "cpu": AsymmetricSACConfig(),
    "paper": AsymmetricSACConfig(
        buffer_size=100_000,
        learning_starts=5_000,
        batch_size=256,
        net_arch=(1024, 1024),
        cnn_features_dim=512,
    ),
}
"""Named presets; ``debug`` for tests, ``cpu`` for this machine, ``paper`` for the paper's scale."""


def sac_preset(name: str) -> AsymmetricSACConfig:
    """Return the named :data:`SAC_PRESETS` entry, or raise ``ValueError`` listing the choices."""
    return SAC_PRESETS[check_preset(name, "asym-sac")]


class _OneBatch:
    """Stand-in replay buffer whose ``sample`` returns one given batch (used by ``update``)."""

    def __init__(self, samples: DictReplayBufferSamples) -> None:
        self.samples = samples

    def sample(self, batch_size: int, env: Any = None) -> DictReplayBufferSamples:
        return self.samples


class AsymmetricSACAgent:
    """Asymmetric SAC: image actor, state critics; implements the Agent protocol.

    Args:
        env: A Gymnasium env (or SB3 VecEnv) with a ``Dict`` observation holding ``config.actor_key``
            and ``config.critic_key`` (``obs_mode="paired"``). ``None`` only via :meth:`from_file`.
        config: Hyper-parameters (see :data:`SAC_PRESETS`).
        seed: Seed of SB3's networks, exploration and replay sampling.
        model: An already built SB3 model (used by :meth:`from_file`); overrides ``env``.

    Example:
        >>> import numpy as np, gymnasium as gym
        >>> from gymnasium import spaces
        >>> class Toy(gym.Env):
        ...     observation_space = spaces.Dict({
        ...         "state": spaces.Box(-1, 1, (3,), np.float32),
        ...         "pixels": spaces.Box(0, 255, (64, 64, 3), np.uint8)})
        ...     action_space = spaces.Box(-1, 1, (1,), np.float32)
        ...     def reset(self, seed=None, options=None):
        ...         return self.observation_space.sample(), {}
        ...     def step(self, a):
        ...         return self.observation_space.sample(), 0.0, False, False, {}
        >>> agent = AsymmetricSACAgent(Toy(), sac_preset("debug"), seed=0)
        >>> action, _ = agent.act({"pixels": np.zeros((64, 64, 3), np.uint8)}, None, explore=False)
        >>> action.shape
        (1,)
    """

    def __init__(
        self,
        env: gym.Env | Any | None,
        config: AsymmetricSACConfig,
        seed: int = 0,
        model: SAC | None = None,
    ) -> None:
        self.config = config
        if model is None:
            model = SAC(
                AsymmetricSACPolicy,
                env,
                learning_rate=config.learning_rate,
                buffer_size=config.buffer_size,
                learning_starts=config.learning_starts,
                batch_size=config.batch_size,
                tau=config.tau,
                gamma=config.gamma,
                train_freq=config.train_freq,
                gradient_steps=config.gradient_steps,
                ent_coef=config.ent_coef,
                policy_kwargs={
                    "actor_key": config.actor_key,
                    "critic_key": config.critic_key,
                    "cnn_features_dim": config.cnn_features_dim,
                    "net_arch": list(config.net_arch),
                },
                seed=seed,
                device=config.device,
                verbose=0,
            )
        self.model = model
        # A silent logger so that ``update`` can read SB3's recorded losses without a learn() call.
        if getattr(self.model, "_logger", None) is None:
            self.model.set_logger(Logger(folder=None, output_formats=[]))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(
        cls, path: str | Path, config: AsymmetricSACConfig | None = None, env: Any = None
    ) -> AsymmetricSACAgent:
        """Load a saved agent; ``env`` is needed only to continue training."""
        model = SAC.load(str(path), env=env, device=(config or AsymmetricSACConfig()).device)
        return cls(None, config or AsymmetricSACConfig(), model=model)

    @property
    def policy(self) -> AsymmetricSACPolicy:
        """The SB3 policy (``.actor``, ``.critic``, ``.critic_target``)."""
        return self.model.policy  # type: ignore[return-value]

    # ------------------------------------------------------------------ Agent protocol
    def _pixels_tensor(self, pixels: np.ndarray) -> torch.Tensor:
        """``(H, W, 3)`` or ``(B, H, W, 3)`` uint8 -> ``(B, 3, H, W)`` uint8 in the policy's layout."""
        space_shape = self.policy.observation_space[self.config.actor_key].shape  # (3, H, W) after SB3
        x = torch.as_tensor(np.asarray(pixels))
        if x.dim() == 3:
            x = x[None]
        if tuple(x.shape[1:]) != tuple(space_shape):  # channel-last -> channel-first
            x = x.permute(0, 3, 1, 2)
        return x.to(self.model.device)

    def act(self, obs: Observation, state: Any = None, explore: bool = False) -> tuple[np.ndarray, Any]:
        """Action for ONE observation; reads only ``obs[actor_key]`` (``"state"`` may be absent).

        Args:
            obs: ``{"pixels": (H, W, 3) uint8, ...}``; other keys are ignored.
            state: Unused (SAC is memoryless); returned unchanged as ``None``.
            explore: Sample from the squashed Gaussian instead of taking its mode.

        Returns:
            ``(action (A,) float32 in [-1, 1], None)``.
        """
        self.policy.set_training_mode(False)
        batch = {self.config.actor_key: self._pixels_tensor(obs[self.config.actor_key])}
        with torch.no_grad():
            action = self.policy.actor(batch, deterministic=not explore)  # (1, A), tanh-squashed
        action_np = action[0].cpu().numpy().astype(np.float32)
        # SB3 squashes to [-1, 1]; rescale in case the env's box is wider.
        low, high = self.model.action_space.low, self.model.action_space.high
        return (low + 0.5 * (action_np + 1.0) * (high - low)).astype(np.float32), None

    def update(self, batch: Mapping[str, np.ndarray]) -> dict[str, float]:
        """One SAC gradient update on transitions cut from stored sequences.

        ``batch`` holds ``(B, T, ...)`` arrays with the episode-store keys (``state``, ``pixels``,
        ``action``, ``reward``, ``is_terminal``, ``is_first``). The store records at index t the
        observation o_t together with the action a_t that *led to* it and the reward r_t received on
        arriving (Dreamer's convention), so transition t -> t+1 is
        ``(o_t, a_{t+1}, r_{t+1}, o_{t+1}, terminal_{t+1})``; pairs whose ``t+1`` starts a new episode
        are dropped. The gradient step itself is SB3's ``SAC.train`` (critic, actor, entropy, Polyak).

        Returns:
            ``{"actor_loss", "critic_loss", "ent_coef", ...}`` from SB3's logger.
        """
        ak, ck = self.config.actor_key, self.config.critic_key
        valid = ~np.asarray(batch["is_first"][:, 1:], dtype=bool)  # (B, T-1)
        if not valid.any():
            return {}

        def pairs(x: np.ndarray, nxt: bool) -> np.ndarray:
            x = np.asarray(x)
            x = x[:, 1:] if nxt else x[:, :-1]  # (B, T-1, ...)
            return x[valid]  # (N, ...)

        def to_t(x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.as_tensor(x, dtype=dtype, device=self.model.device)

        # uint8 pixels, exactly as SB3's own buffer returns them (the policy divides by 255).
        obs = {ak: self._pixels_tensor(pairs(batch[ak], False)), ck: to_t(pairs(batch[ck], False))}
        next_obs = {ak: self._pixels_tensor(pairs(batch[ak], True)), ck: to_t(pairs(batch[ck], True))}
        # SB3's buffer stores actions scaled to [-1, 1]; ours are already in [-1, 1].
        samples = DictReplayBufferSamples(
            observations=obs,
            actions=to_t(pairs(batch["action"], True)),
            next_observations=next_obs,
            dones=to_t(pairs(batch["is_terminal"], True).astype(np.float32)).reshape(-1, 1),
            rewards=to_t(pairs(batch["reward"], True)).reshape(-1, 1),
        )
        real_buffer = self.model.replay_buffer
        self.model.replay_buffer = _OneBatch(samples)  # type: ignore[assignment]
        try:
            self.model.train(gradient_steps=1, batch_size=int(valid.sum()))
        finally:
            self.model.replay_buffer = real_buffer
        values = self.model.logger.name_to_value
        return {k.split("/", 1)[-1]: float(v) for k, v in values.items() if k.startswith("train/")}

    def save(self, path: str | Path) -> None:
        """Write the SB3 model zip (networks, optimisers, entropy coefficient) to ``path`` atomically.

        The replay buffer is saved separately by :meth:`save_replay_buffer` (it can be gigabytes).
        """
        buffer = io.BytesIO()
        self.model.save(buffer)
        atomic_write(path, lambda f: f.write(buffer.getvalue()))

    def load(self, path: str | Path) -> None:
        """Restore the networks, optimisers and step counter saved by :meth:`save`, in place."""
        loaded = SAC.load(str(path), env=None, device=self.config.device)
        self.model.set_parameters(loaded.get_parameters(), exact_match=True, device=self.config.device)
        self.model.num_timesteps = loaded.num_timesteps
        self.model._n_updates = loaded._n_updates

    def save_replay_buffer(self, path: str | Path) -> None:
        """Pickle SB3's replay buffer to ``path`` atomically (for resuming a killed run)."""
        # SB3 pickles into an open binary file without closing it (it closes only files it opened itself),
        # and a file object, unlike a path, never gets ".pkl" appended.
        atomic_write(path, self.model.save_replay_buffer)
