"""Building blocks of the Dreamer world model and actor-critic.

DreamerV3 robustness techniques implemented here (Hafner et al., 2023, "Mastering diverse domains
through world models"):

- *symlog* / *symexp* (:func:`symlog`): squash vector inputs and regression targets so that the
  same hyperparameters work for small and large magnitudes.
- *two-hot* regression (:class:`TwoHot`): rewards and values are predicted as a categorical
  distribution over exponentially spaced bins (uniform in symlog space); the loss is a cross-entropy
  against the two-hot encoding of the target, which is invariant to the target's scale.

Image keys are normalised to ``[-0.5, 0.5]`` and must be 64 x 64 (four stride-2 convolutions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from twist_agents.dreamer.config import DecoderConfig, EncoderConfig

IMAGE_SIZE = 64
"""Side of the square images the conv encoder/decoder expect."""


def symlog(x: torch.Tensor) -> torch.Tensor:
    """DreamerV3 symlog: ``sign(x) * log(1 + |x|)``."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


def symexp(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`symlog`: ``sign(x) * (exp(|x|) - 1)``."""
    return torch.sign(x) * torch.expm1(torch.abs(x))


# oneDNN's fp32 GEMM (the library behind PyTorch's CPU convolutions) uses AVX-512 on AMD Zen CPUs, where MKL's
# sgemm, behind ``F.linear``, stays on AVX2: on this project's 2-core Zen 5 machines the large products of an
# update (forward and both backward ones) ran 1.5-2.3x faster through oneDNN (benchmarks/update_speed.py).
# Both are IEEE fp32 (no bf16/tf32 down-conversion); they differ only in summation order, i.e. in rounding.
_ONEDNN_MATMUL = getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch.backends.mkldnn.is_available() else None
_ONEDNN_MIN_MACS = 1 << 22
"""Smaller products (rows x in x out multiply-adds) stay with ``F.linear``: there, the custom autograd function's
Python overhead outweighs the faster kernel (measured crossover ~2-4M; e.g. 16 x 64 x 64 took 87 us instead of 30)."""


def _plain(matrix: torch.Tensor) -> torch.Tensor:
    """``matrix`` if it is row- or column-major (oneDNN reads those in place, fast), else a contiguous copy.

    Other strides (e.g. a column slice of a wider matrix) make oneDNN fall back to kernels up to 1000x slower.
    """
    return matrix if matrix.is_contiguous() or matrix.t().is_contiguous() else matrix.contiguous()


def _onednn_matmul(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` for 2-D ``x`` through oneDNN."""
    assert _ONEDNN_MATMUL is not None
    return _ONEDNN_MATMUL(_plain(x), _plain(weight), bias, "none", [], "")


class _OneDnnLinear(torch.autograd.Function):
    """``F.linear`` on a 2-D input with oneDNN in the forward pass and in both products of the backward pass."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn_matmul(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = _onednn_matmul(grad, weight.t()) if ctx.needs_input_grad[0] else None  # (M, N) @ (N, K)
        grad_w = _onednn_matmul(grad.t(), x.t()) if ctx.needs_input_grad[1] else None  # (N, M) @ (M, K)
        grad_b = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear`` (same math, same gradients), computed by oneDNN for large enough CPU float32 products.

    Example:
        >>> x, w, b = torch.randn(4, 16, 256), torch.randn(256, 256), torch.randn(256)
        >>> torch.allclose(linear(x, w, b), torch.nn.functional.linear(x, w, b), rtol=1e-4, atol=1e-4)
        True
    """
    if (
        _ONEDNN_MATMUL is None
        or x.device.type != "cpu"
        or x.dtype != torch.float32
        or weight.dtype != torch.float32
        or x.numel() * weight.shape[0] < _ONEDNN_MIN_MACS
        or not torch._C._get_mkldnn_enabled()
    ):
        return F.linear(x, weight, bias)
    y = _OneDnnLinear.apply(x.reshape(-1, x.shape[-1]), weight, bias)
    return y.reshape(*x.shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    """:class:`torch.nn.Linear` computed by :func:`linear` (same parameters and state-dict keys)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x @ weight.T + bias``."""
        return linear(x, self.weight, self.bias)


def adam(params: Iterable[nn.Parameter], lr: float, eps: float) -> torch.optim.Adam:
    """:class:`torch.optim.Adam` with PyTorch's fused kernel where the parameters' device has one (same update rule).

    At the XS size (7.5M parameters) a fused step took 4 ms of CPU time instead of 12 ms.
    """
    params = list(params)
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)
    return torch.optim.Adam(params, lr=lr, eps=eps, fused=fused or None)


def activation(name: str) -> type[nn.Module]:
    """Return the activation module class for ``name`` (``"elu"``, ``"silu"``, ``"relu"``, ``"tanh"``)."""
    table = {"elu": nn.ELU, "silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh}
    if name not in table:
        raise ValueError(f"activation: unknown activation {name!r}; choose one of {sorted(table)}")
    return table[name]


class MLP(nn.Module):
    """``layers`` x (Linear -> LayerNorm -> activation), then an optional linear output layer.

    Args:
        in_dim: input features.
        out_dim: output features, or ``None`` to end at the last hidden layer.
        layers: number of hidden layers.
        units: units per hidden layer.
        act: activation name.
        norm: put a LayerNorm before each activation (DreamerV3 uses it everywhere).
        zero_init_output: initialise the output layer to zero (DreamerV3 does this for the reward and
            critic heads so that early predictions are 0 instead of random large values).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int | None,
        layers: int,
        units: int,
        act: str = "silu",
        norm: bool = True,
        zero_init_output: bool = False,
    ) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        dim = in_dim
        for _ in range(layers):
            mods.append(Linear(dim, units, bias=not norm))
            if norm:
                mods.append(nn.LayerNorm(units, eps=1e-3))
            mods.append(activation(act)())
            dim = units
        self.hidden = nn.Sequential(*mods)
        self.out_dim = dim if out_dim is None else out_dim
        self.out: nn.Module = nn.Identity() if out_dim is None else Linear(dim, out_dim)
        if zero_init_output and out_dim is not None:
            assert isinstance(self.out, nn.Linear)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(..., in_dim)`` to ``(..., out_dim)``."""
        return self.out(self.hidden(x))


def _flat_apply(net: nn.Module, x: torch.Tensor, event_dims: int) -> torch.Tensor:
    """Apply ``net`` to ``x`` with arbitrary leading batch dims (conv layers want exactly one)."""
    batch = x.shape[: x.dim() - event_dims]
    y = net(x.reshape(-1, *x.shape[x.dim() - event_dims :]))
    return y.reshape(*batch, *y.shape[1:])


def normalize_image(image: torch.Tensor) -> torch.Tensor:
    """``(..., H, W, C)`` uint8 (or float in [0, 255]) -> a new float32 tensor in [-0.5, 0.5].

    Example:
        >>> normalize_image(torch.tensor([0, 255], dtype=torch.uint8)).tolist()
        [-0.5, 0.5]
    """
    # In place on one fresh copy: the same values as ``image.float() / 255 - 0.5`` without two more temporaries.
    return image.to(torch.float32, copy=True).div_(255.0).sub_(0.5)


class ConvEncoder(nn.Module):
    """Four stride-2 convolutions: ``(..., 64, 64, C) uint8`` -> ``(..., 8 * depth * 4 * 4)``."""

    def __init__(self, channels: int, depth: int, act: str) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        cin = channels
        for i in range(4):
            cout = depth * 2**i
            mods += [nn.Conv2d(cin, cout, 4, 2, 1), nn.GroupNorm(1, cout), activation(act)()]
            cin = cout
        self.net = nn.Sequential(*mods, nn.Flatten())
        self.out_dim = cin * 4 * 4

    def forward(self, image: torch.Tensor, normalized: bool = False) -> torch.Tensor:
        """Encode ``(..., H, W, C)`` images: uint8 or float in [0, 255], or ``normalized`` (:func:`normalize_image`)."""
        if image.shape[-3:-1] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"ConvEncoder: expected {IMAGE_SIZE}x{IMAGE_SIZE} images, got {tuple(image.shape)}")
        x = image if normalized else normalize_image(image)
        x = x.movedim(-1, -3)  # (..., C, H, W)
        return _flat_apply(self.net, x, 3)


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: feature ``(..., F)`` -> image mean ``(..., 64, 64, C)`` in [-0.5, 0.5]."""

    def __init__(self, feat_dim: int, channels: int, depth: int, act: str) -> None:
        super().__init__()
        self.depth = depth
        self.inp = Linear(feat_dim, 8 * depth * 4 * 4)
        mods: list[nn.Module] = []
        cin = 8 * depth
        for i in range(3):
            cout = depth * 2 ** (2 - i)
            mods += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.GroupNorm(1, cout), activation(act)()]
            cin = cout
        mods.append(nn.ConvTranspose2d(cin, channels, 4, 2, 1))
        self.net = nn.Sequential(*mods).to(memory_format=torch.channels_last)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """Decode features to images (normalised, channels last)."""
        x = self.inp(feat).reshape(-1, 8 * self.depth, 4, 4)
        # Channels-last weights and activations: oneDNN's transposed convolutions run faster in this layout,
        # and the output (N, C, H, W) is then already the (N, H, W, C) image the loss compares with.
        x = self.net(x.contiguous(memory_format=torch.channels_last))
        return x.movedim(-3, -1).reshape(*feat.shape[:-1], *x.shape[-2:], x.shape[-3])  # (..., H, W, C)


def _is_image(shape: Sequence[int]) -> bool:
    return len(shape) == 3


class Standardizer(nn.Module):
    """Per-dimension ``(x - mean) / scale`` with ``scale = max(std, floor)``, fitted once on data and then frozen.

    The statistics are buffers, so they are saved and restored with the model's ``state_dict``; before
    :meth:`fit` it is the identity (``mean`` 0, ``scale`` 1), so an agent can act before its first update.
    See :attr:`~twist_agents.dreamer.config.WorldModelConfig.standardize_vectors` for why.

    Args:
        dim: size of the (flattened, concatenated) vector it standardises.
        floor: smallest scale, in the vector's own units.
    """

    def __init__(self, dim: int, floor: float) -> None:
        super().__init__()
        if not floor > 0:
            raise ValueError(f"Standardizer: floor must be positive, got {floor}")
        self.floor = float(floor)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.register_buffer("fitted", torch.tensor(False))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Set the statistics from the samples ``x`` ``(..., dim)`` (every leading dimension is a sample)."""
        flat = x.detach().float().reshape(-1, self.mean.shape[0])  # (N, dim)
        self.mean.copy_(flat.mean(0))
        self.scale.copy_(flat.std(0, unbiased=False).clamp_min(self.floor))
        self.fitted.fill_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., dim)`` in the vector's units -> standardised ``(..., dim)``."""
        return (x - self.mean) / self.scale

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Standardised ``(..., dim)`` -> the vector's units."""
        return y * self.scale + self.mean


class RunningStandardizer(nn.Module):
    """Per-dimension ``(x - mean) / max(std, floor)``, statistics pooled over the first calls of :meth:`update`.

    After ``batches`` calls the statistics are frozen.

    :class:`Standardizer` fits once, on one batch; a target whose spread only shows across many episodes (the
    Franka cube's orientation: std 0.01 in the teacher's first batch, 0.14 over its whole dataset) needs more
    samples. The pooled moments are exact (Chan et al.'s parallel update), and the statistics are buffers, so
    they are saved with the model's ``state_dict`` and a resumed run keeps them.

    Args:
        dim: size of the vector it standardises.
        floor: smallest scale, in the vector's own units.
        batches: calls of :meth:`update` that add to the statistics; later calls change nothing.
    """

    def __init__(self, dim: int, floor: float, batches: int = 100) -> None:
        super().__init__()
        if not floor > 0 or batches < 1:
            raise ValueError(f"RunningStandardizer: needs floor > 0 and batches >= 1, got {floor}, {batches}")
        self.floor, self.batches = float(floor), int(batches)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(dim, dtype=torch.float64))  # sum of squared deviations
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Pool the samples ``x`` ``(..., dim)`` into the statistics unless ``batches`` calls have been made."""
        if int(self.seen) >= self.batches:
            return
        flat = x.detach().double().reshape(-1, self.mean.shape[0])  # (N, dim)
        n = float(flat.shape[0])
        b_mean = flat.mean(0)
        b_m2 = (flat - b_mean).pow(2).sum(0)
        total = float(self.count) + n
        delta = b_mean - self.mean
        self.m2.add_(b_m2 + delta.pow(2) * float(self.count) * n / total)
        self.mean.add_(delta * n / total)
        self.count.fill_(total)
        self.seen.add_(1)

    @property
    def scale(self) -> torch.Tensor:
        """``(dim,)`` ``max(std, floor)`` (the floor alone before any :meth:`update`)."""
        var = self.m2 / self.count.clamp_min(1.0)
        return var.sqrt().clamp_min(self.floor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., dim)`` in the vector's units -> standardised ``(..., dim)`` (same dtype as ``x``)."""
        return (x - self.mean.to(x.dtype)) / self.scale.to(x.dtype)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Standardised ``(..., dim)`` -> the vector's units (same dtype as ``y``)."""
        return y * self.scale.to(y.dtype) + self.mean.to(y.dtype)


class MultiEncoder(nn.Module):
    """Encode the configured observation keys and concatenate: MLP for vectors, CNN for images.

    Args:
        obs_shapes: shape of every available observation key (e.g. ``{"state": (5,), "pixels": (64, 64, 3)}``).
        keys: the keys to encode (``WorldModelConfig.encode``).
        config: encoder sizes.
        standardize_floor: ``None``: vector inputs as they are; else a :class:`Standardizer` with this floor
            (``self.standardizer``) before the symlog.
    """

    def __init__(
        self,
        obs_shapes: Mapping[str, Sequence[int]],
        keys: Sequence[str],
        config: EncoderConfig,
        standardize_floor: float | None = None,
    ):
        super().__init__()
        missing = [k for k in keys if k not in obs_shapes]
        if missing:
            raise ValueError(f"MultiEncoder: keys {missing} not in the observation space {sorted(obs_shapes)}")
        self.config = config
        self.vec_keys = [k for k in keys if not _is_image(obs_shapes[k])]
        self.img_keys = [k for k in keys if _is_image(obs_shapes[k])]
        self.out_dim = 0
        self.standardizer: Standardizer | None = None
        if self.vec_keys:
            vec_dim = sum(int(torch.tensor(obs_shapes[k]).prod()) for k in self.vec_keys)
            self.mlp = MLP(vec_dim, None, config.mlp_layers, config.mlp_units, config.act)
            self.out_dim += self.mlp.out_dim
            if standardize_floor is not None:
                self.standardizer = Standardizer(vec_dim, standardize_floor)
        if self.img_keys:
            channels = sum(int(obs_shapes[k][-1]) for k in self.img_keys)
            self.cnn = ConvEncoder(channels, config.cnn_depth, config.act)
            self.out_dim += self.cnn.out_dim

    def forward(
        self, obs: Mapping[str, torch.Tensor], images: Mapping[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """``{key: (..., *shape)}`` -> embedding ``(..., E)``.

        ``images``: the image keys already passed through :func:`normalize_image` (e.g. shared with the
        decoder's targets, see :meth:`MultiDecoder.loss`); ``obs`` is then not read for them.
        """
        outs = []
        if self.vec_keys:
            x = self.vectors(obs)
            if self.standardizer is not None:
                x = self.standardizer(x)
            outs.append(self.mlp(symlog(x) if self.config.symlog_inputs else x))
        if self.img_keys:
            if images is None:
                outs.append(self.cnn(torch.cat([obs[k] for k in self.img_keys], -1)))
            else:
                outs.append(self.cnn(torch.cat([images[k] for k in self.img_keys], -1), normalized=True))
        return torch.cat(outs, -1)

    def vectors(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The vector keys flattened and concatenated, as float: ``(..., V)`` (what :class:`Standardizer` fits)."""
        return torch.cat([obs[k].float().flatten(start_dim=obs[k].dim() - 1) for k in self.vec_keys], -1)


class MultiDecoder(nn.Module):
    """Reconstruct the configured observation keys from the latent feature; returns per-key losses.

    Vector keys: symlog squared error summed over dimensions (DreamerV3), of the standardised vector when
    ``standardize_floor`` is given (a :class:`Standardizer`, ``self.standardizer``, over the decoded vector keys
    concatenated). Image keys: squared error of the normalised image summed over pixels (a unit-variance
    Gaussian's negative log-likelihood).
    """

    def __init__(
        self,
        feat_dim: int,
        obs_shapes: Mapping[str, Sequence[int]],
        keys: Sequence[str],
        config: DecoderConfig,
        standardize_floor: float | None = None,
    ):
        super().__init__()
        missing = [k for k in keys if k not in obs_shapes]
        if missing:
            raise ValueError(f"MultiDecoder: keys {missing} not in the observation space {sorted(obs_shapes)}")
        self.config = config
        self.shapes = {k: tuple(obs_shapes[k]) for k in keys}
        self.vec_keys = [k for k in keys if not _is_image(obs_shapes[k])]
        self.img_keys = [k for k in keys if _is_image(obs_shapes[k])]
        self.standardizer: Standardizer | None = None
        if self.vec_keys:
            vec_dim = sum(int(torch.tensor(obs_shapes[k]).prod()) for k in self.vec_keys)
            self.mlp = MLP(feat_dim, vec_dim, config.mlp_layers, config.mlp_units, config.act)
            if standardize_floor is not None:
                self.standardizer = Standardizer(vec_dim, standardize_floor)
        if self.img_keys:
            channels = sum(int(obs_shapes[k][-1]) for k in self.img_keys)
            self.cnn = ConvDecoder(feat_dim, channels, config.cnn_depth, config.act)

    def forward(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predict every decoded key: vectors in (standardised, if configured) symlog space, images in [-0.5, 0.5]."""
        out: dict[str, torch.Tensor] = {}
        if self.vec_keys:
            pred = self.mlp(feat)
            sizes = [int(torch.tensor(self.shapes[k]).prod()) for k in self.vec_keys]
            for k, p in zip(self.vec_keys, pred.split(sizes, -1), strict=True):
                out[k] = p.reshape(*feat.shape[:-1], *self.shapes[k])
        if self.img_keys:
            pred = self.cnn(feat)
            sizes = [self.shapes[k][-1] for k in self.img_keys]
            for k, p in zip(self.img_keys, pred.split(sizes, -1), strict=True):
                out[k] = p
        return out

    def loss(
        self, feat: torch.Tensor, obs: Mapping[str, torch.Tensor], images: Mapping[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """Per-key reconstruction loss ``(...)`` (negative log-likelihood up to a constant).

        ``images``: image targets already passed through :func:`normalize_image` (``obs`` is then not read for them).
        """
        preds = self(feat)
        losses = {}
        targets = self._vector_targets(obs)
        for k, p in preds.items():
            # mse_loss(reduction="none") is (p - target) ** 2 in one kernel, with a one-kernel backward.
            if k in self.img_keys:
                target = images[k] if images is not None else normalize_image(obs[k])
                losses[k] = F.mse_loss(p, target, reduction="none").sum((-3, -2, -1))
            else:
                target = targets[k]
                if self.config.symlog_targets:
                    target = symlog(target)
                losses[k] = F.mse_loss(p, target, reduction="none").flatten(start_dim=feat.dim() - 1).sum(-1)
        return losses

    def reconstruct(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predictions in observation units (vectors un-symlogged, images as float in [0, 255])."""
        preds = self(feat)
        out = {}
        for k, p in preds.items():
            if k in self.img_keys:
                out[k] = ((p + 0.5) * 255.0).clamp(0, 255)
            else:
                out[k] = symexp(p) if self.config.symlog_targets else p
        if self.standardizer is not None and self.vec_keys:
            flat = torch.cat([out[k].flatten(start_dim=feat.dim() - 1) for k in self.vec_keys], -1)
            out.update(self._split(self.standardizer.inverse(flat), feat.shape[:-1]))
        return out

    def _split(self, flat: torch.Tensor, lead: Sequence[int]) -> dict[str, torch.Tensor]:
        """``(..., V)`` concatenated vector keys -> ``{key: (..., *shape)}``."""
        sizes = [int(torch.tensor(self.shapes[k]).prod()) for k in self.vec_keys]
        return {k: v.reshape(*lead, *self.shapes[k]) for k, v in zip(self.vec_keys, flat.split(sizes, -1), strict=True)}

    def _vector_targets(self, obs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The vector keys as float, standardised if configured (before any symlog)."""
        if self.standardizer is None or not self.vec_keys:
            return {k: obs[k].float() for k in self.vec_keys}
        first = obs[self.vec_keys[0]]
        lead = first.shape[: first.dim() - len(self.shapes[self.vec_keys[0]])]
        flat = torch.cat([obs[k].float().reshape(*lead, -1) for k in self.vec_keys], -1)
        return self._split(self.standardizer(flat), lead)


class TwoHot:
    """DreamerV3 two-hot distribution over ``bins`` values uniformly spaced in symlog space in [-20, 20].

    ``mean()`` is the expected value mapped back with :func:`symexp`; ``log_prob(x)`` is the
    cross-entropy against the two-hot encoding of ``symlog(x)`` (weights on the two nearest bins).
    """

    def __init__(self, logits: torch.Tensor, low: float = -20.0, high: float = 20.0) -> None:
        self.logits = logits
        self.bins = torch.linspace(low, high, logits.shape[-1], device=logits.device)

    def mean(self) -> torch.Tensor:
        """Expected value ``(...)``."""
        return symexp((torch.softmax(self.logits, -1) * self.bins).sum(-1))

    def log_prob(self, x: torch.Tensor, log_probs: torch.Tensor | None = None) -> torch.Tensor:
        """Two-hot log-likelihood of targets ``x`` ``(...)``.

        ``log_probs``: ``log_softmax(logits)`` if the caller has it already (scores two targets at once).
        """
        x = symlog(x.detach()).clamp(self.bins[0], self.bins[-1])
        n = self.bins.numel()
        below = (torch.bucketize(x, self.bins, right=True) - 1).clamp(0, n - 1)
        above = (below + 1).clamp(0, n - 1)
        lo, hi = self.bins[below], self.bins[above]
        dist = (hi - lo).clamp_min(1e-8)
        w_above = torch.where(above == below, torch.ones_like(x), (x - lo) / dist)
        w_below = 1.0 - w_above
        target = F.one_hot(below, n) * w_below.unsqueeze(-1) + F.one_hot(above, n) * w_above.unsqueeze(-1)
        if log_probs is None:
            log_probs = torch.log_softmax(self.logits, -1)
        return (target * log_probs).sum(-1)
