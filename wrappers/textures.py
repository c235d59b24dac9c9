"""Texture sources for domain randomisation: procedural families (the default) and folders of images/videos.

A texture source answers one question: *give me texture number ``i`` of split ``split`` at size ``(h, w)``*.
Splits never share a texture:

* :class:`ProceduralTextures` draws every texture from a *family* (checker boards, stripes, value noise, ...).
  Train and test use disjoint families, so a held-out texture is not merely a new random seed of a training
  texture but a different kind of image, like the held-out background videos of the Distracting Control Suite.
* :class:`FolderTextures` reads images or videos from a folder (for example DAVIS ``JPEGImages/480p``) and
  splits them *by file or by video folder*, so frames of one video never appear in both splits.

Everything is generated in-process with NumPy (no download) and is a pure function of ``(split, index, size,
seed)``: the same arguments always give the same pixels.

Example:
    >>> from wrappers.textures import ProceduralTextures
    >>> src = ProceduralTextures()
    >>> img = src.texture("train", 0, (32, 48))
    >>> img.shape, img.dtype.name
    ((32, 48, 3), 'uint8')
    >>> set(src.families("train")).isdisjoint(src.families("test"))
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import mujoco
import numpy as np

Split = Literal["train", "test"]
SPLITS: tuple[Split, ...] = ("train", "test")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".gif", ".webm", ".mkv")


@runtime_checkable
class TextureSource(Protocol):
    """Anything that can produce texture ``index`` of a split as an ``(h, w, 3)`` uint8 image."""

    def texture(self, split: Split, index: int, size: tuple[int, int]) -> np.ndarray:
        """Return texture ``index`` of ``split`` resized to ``size = (height, width)``."""
        ...


def _check_split(split: str, who: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"{who}: split must be one of {SPLITS}, got {split!r}")


def _seed_for(*parts: object) -> int:
    """A stable 64-bit seed from arbitrary parts (Python's ``hash`` is salted per process; this is not)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


# --------------------------------------------------------------------------------------------------------
# Procedural families. Each takes (rng, h, w) and returns float RGB in [0, 1] of shape (h, w, 3).
# --------------------------------------------------------------------------------------------------------


def _palette(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random saturated-ish colours, (n, 3) in [0, 1]."""
    hsv = np.stack([rng.uniform(0, 1, n), rng.uniform(0.4, 1.0, n), rng.uniform(0.3, 1.0, n)], axis=1)
    h, s, v = hsv[:, 0] * 6.0, hsv[:, 1], hsv[:, 2]
    i = np.floor(h).astype(int) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack([np.stack(c, axis=1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table[i, np.arange(n)]


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.meshgrid(np.linspace(0, 1, h, endpoint=False), np.linspace(0, 1, w, endpoint=False), indexing="ij")
    return y, x


def _mix(t: np.ndarray, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    return c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]


def _checker(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    k = rng.integers(2, 12)
    c = _palette(rng, 2)
    return _mix(((np.floor(y * k) + np.floor(x * k)) % 2).astype(float), c[0], c[1])


def _stripes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    angle, k = rng.uniform(0, np.pi), rng.uniform(3, 20)
    t = 0.5 + 0.5 * np.sin(2 * np.pi * k * (x * np.cos(angle) + y * np.sin(angle)))
    c = _palette(rng, 2)
    return _mix(t, c[0], c[1])


def _value_noise(rng: np.random.Generator, h: int, w: int, octaves: int = 4) -> np.ndarray:
    """Multi-octave value noise in [0, 1] (bilinear interpolation of random lattices)."""
    out = np.zeros((h, w))
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 2 ** (o + 2)
        lattice = rng.uniform(0, 1, (cells + 1, cells + 1))
        yy, xx = np.linspace(0, cells, h, endpoint=False), np.linspace(0, cells, w, endpoint=False)
        y0, x0 = yy.astype(int), xx.astype(int)
        fy, fx = (yy - y0)[:, None], (xx - x0)[None, :]
        a, b = lattice[y0][:, x0], lattice[y0][:, x0 + 1]
        c, d = lattice[y0 + 1][:, x0], lattice[y0 + 1][:, x0 + 1]
        out += amp * ((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy)
        total += amp
        amp *= 0.5
    return out / total


def _clouds(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    c = _palette(rng, 2)
    return _mix(_value_noise(rng, h, w), c[0], c[1])


def _blobs(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    n = rng.integers(4, 12)
    img = np.tile(_palette(rng, 1)[0], (h, w, 1))
    centres, radii, colours = rng.uniform(0, 1, (n, 2)), rng.uniform(0.05, 0.3, n), _palette(rng, n)
    for centre, radius, colour in zip(centres, radii, colours, strict=True):
        mask = ((y - centre[0]) ** 2 + (x - centre[1]) ** 2) < radius**2
        img[mask] = colour
    return img


def _rings(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    cy, cx, k = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(4, 16)
    t = (np.sqrt((y - cy) ** 2 + (x - cx) ** 2) * k) % 1.0
    c = _palette(rng, 3)
    return np.where((t < 0.5)[..., None], _mix(t * 2, c[0], c[1]), _mix((t - 0.5) * 2, c[1], c[2]))


def _voronoi(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    n = int(rng.integers(6, 24))
    sites = rng.uniform(0, 1, (n, 2))
    d = (y[..., None] - sites[:, 0]) ** 2 + (x[..., None] - sites[:, 1]) ** 2  # (h, w, n)
    return _palette(rng, n)[np.argmin(d, axis=-1)]


def _marble(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = _grid(h, w)
    k = rng.uniform(2, 8)
    t = 0.5 + 0.5 * np.sin(2 * np.pi * (k * x + 4.0 * _value_noise(rng, h, w)))
    c = _palette(rng, 2)
    return _mix(t, c[0], c[1])


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth ramp through three colours at a random angle: no edges at all."""
    y, x = _grid(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / (np.ptp(t) + 1e-9)
    c = _palette(rng, 3)
    return np.where((t < 0.5)[..., None], _mix(t * 2, c[0], c[1]), _mix((t - 0.5) * 2, c[1], c[2]))


def _dots(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Polka dots on a regular lattice: small repeated discs, the scale of the cube."""
    y, x = _grid(h, w)
    k, r = rng.uniform(4, 14), rng.uniform(0.15, 0.4)
    fy, fx = (y * k) % 1.0 - 0.5, (x * k + 0.5 * (np.floor(y * k) % 2)) % 1.0 - 0.5  # every other row offset
    c = _palette(rng, 2)
    return _mix((fy**2 + fx**2 < r**2).astype(float), c[0], c[1])


def _plaid(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Two crossing stripe sets of three colours (tartan): straight edges in two directions."""
    y, x = _grid(h, w)
    ky, kx = rng.uniform(2, 10, 2)
    a = (np.sin(2 * np.pi * ky * y) > rng.uniform(-0.5, 0.5)).astype(float)
    b = (np.sin(2 * np.pi * kx * x) > rng.uniform(-0.5, 0.5)).astype(float)
    c = _palette(rng, 3)
    return _mix(a, c[0], c[1]) * 0.5 + _mix(b, c[0], c[2]) * 0.5


def _speckle(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """White noise over a few colours, in square cells of 1-4 pixels: the finest structure of any family."""
    cell = int(rng.integers(1, 5))
    colours = _palette(rng, int(rng.integers(2, 5)))
    idx = rng.integers(0, len(colours), (-(-h // cell), -(-w // cell)))
    return colours[np.repeat(np.repeat(idx, cell, 0), cell, 1)[:h, :w]]


def _bricks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Running-bond bricks, each a slightly different shade, with mortar lines."""
    y, x = _grid(h, w)
    rows, cols = int(rng.integers(3, 12)), int(rng.integers(2, 8))
    row = np.floor(y * rows)
    u = x * cols + 0.5 * (row % 2)  # every other row shifted by half a brick
    brick_id = (row * (cols + 1) + np.floor(u)).astype(int)
    shades = _palette(rng, 1)[0] * rng.uniform(0.6, 1.0, (int(brick_id.max()) + 1, 1))
    mortar = ((y * rows) % 1.0 < 0.12) | (u % 1.0 < 0.06)
    return np.where(mortar[..., None], _palette(rng, 1)[0][None, None], shades[brick_id])


def _collage(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Two textures of :data:`WIDE_TRAIN_FAMILIES` cut together along the two-tone mask of a third.

    Blobs filled with stripes, bricks half speckled. Built only from training families, so it adds no held-out
    shape; what it adds is structure at two scales at once, and many more distinct textures than the families alone.
    """
    a, b, m = rng.choice(len(WIDE_TRAIN_FAMILIES), 3, replace=False)
    first = FAMILIES[WIDE_TRAIN_FAMILIES[a]](rng, h, w)
    second = FAMILIES[WIDE_TRAIN_FAMILIES[b]](rng, h, w)
    lum = FAMILIES[WIDE_TRAIN_FAMILIES[m]](rng, h, w).mean(-1)  # (h, w)
    return np.where((lum > np.median(lum))[..., None], first, second)


FAMILIES: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "checker": _checker,
    "stripes": _stripes,
    "clouds": _clouds,
    "blobs": _blobs,
    "rings": _rings,
    "voronoi": _voronoi,
    "marble": _marble,
    "gradient": _gradient,
    "dots": _dots,
    "plaid": _plaid,
    "speckle": _speckle,
    "bricks": _bricks,
    "collage": _collage,
}
"""Every procedural family by name."""

TRAIN_FAMILIES: tuple[str, ...] = ("checker", "stripes", "clouds", "blobs")
"""Families used for training textures."""

TEST_FAMILIES: tuple[str, ...] = ("rings", "voronoi", "marble")
"""Held-out families: never drawn for the train split."""

WIDE_TRAIN_FAMILIES: tuple[str, ...] = (*TRAIN_FAMILIES, "gradient", "dots", "plaid", "speckle", "bricks")
"""A wider training set, still disjoint from :data:`TEST_FAMILIES`: the four default families plus five that add
edge-free ramps, small repeated discs, crossing straight edges, pixel-scale noise and bricks. Not the default
(the DMC results were measured with :data:`TRAIN_FAMILIES`); pass ``ProceduralTextures(train_families=
WIDE_TRAIN_FAMILIES)`` as an env's ``texture_source``. None of the five is a variant of a held-out family (no
concentric rings, no Voronoi cells, no noise-warped stripes). With 256 textures per bank
(``FrankaSimEnv(train_textures=256)``) a supervised read-out of the BlockPush cube from single frames misread it on
held-out appearances by 2.5 / 2.5 cm (two seeds), against 3.2 / 3.9 cm with the default four families and 32."""


COLLAGE_TRAIN_FAMILIES: tuple[str, ...] = (*WIDE_TRAIN_FAMILIES, *("collage",) * len(WIDE_TRAIN_FAMILIES))
""":data:`WIDE_TRAIN_FAMILIES` and as many ``collage`` textures cut from them (``family_of`` goes round-robin over
the names, so listing ``collage`` nine times makes half of a bank collages). Still disjoint from
:data:`TEST_FAMILIES`. Measured on Franka BlockPush (TWIST students with 20000 read-out pretraining updates, D drawn
with 256 textures per bank, two seeds, 100 held-out trials): the teacher handed the cube as the student's encoder
head reads it succeeded in 28/100, 32/100 trials against 20/100, 40/100 with :data:`WIDE_TRAIN_FAMILIES`; the
students themselves 14/100, 15/100 against 11/100, 11/100. No change beyond the noise."""


class ProceduralTextures:
    """Textures generated in-process from named families, with disjoint train and test families.

    Args:
        train_families: family names (keys of :data:`FAMILIES`) used for the train split.
        test_families: family names used for the held-out test split; must not overlap ``train_families``.
        seed: base seed; texture ``i`` of a split is a pure function of ``(seed, split, i, size)``.
    """

    def __init__(
        self,
        train_families: Sequence[str] = TRAIN_FAMILIES,
        test_families: Sequence[str] = TEST_FAMILIES,
        seed: int = 0,
    ) -> None:
        for name in (*train_families, *test_families):
            if name not in FAMILIES:
                raise ValueError(f"ProceduralTextures: unknown family {name!r}; known: {sorted(FAMILIES)}")
        overlap = set(train_families) & set(test_families)
        if overlap:
            raise ValueError(f"ProceduralTextures: families {sorted(overlap)} are in both train and test splits")
        if not train_families or not test_families:
            raise ValueError("ProceduralTextures: train_families and test_families must both be non-empty")
        self._families = {"train": tuple(train_families), "test": tuple(test_families)}
        self.seed = seed

    def families(self, split: Split) -> tuple[str, ...]:
        """The family names of ``split``."""
        _check_split(split, "ProceduralTextures")
        return self._families[split]

    def family_of(self, split: Split, index: int) -> str:
        """The family that texture ``index`` of ``split`` comes from (round-robin over the split's families)."""
        fams = self.families(split)
        return fams[index % len(fams)]

    def texture(self, split: Split, index: int, size: tuple[int, int]) -> np.ndarray:
        """Return texture ``index`` of ``split`` as an ``(h, w, 3)`` uint8 image."""
        family = self.family_of(split, index)
        rng = np.random.default_rng(_seed_for(self.seed, split, index, family))
        h, w = size
        return (np.clip(FAMILIES[family](rng, h, w), 0.0, 1.0) * 255).astype(np.uint8)

    def __repr__(self) -> str:
        return f"ProceduralTextures(train={self._families['train']}, test={self._families['test']}, seed={self.seed})"


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize with NumPy (textures are tiny; no need for a resampling dependency)."""
    h, w = size
    ys = (np.arange(h) * img.shape[0] / h).astype(int)
    xs = (np.arange(w) * img.shape[1] / w).astype(int)
    return img[ys][:, xs]


class FolderTextures:
    """Textures from a folder of images and/or videos, split into train and held-out test items.

    The folder may hold image files, video files, or sub-folders of frames (DAVIS ``JPEGImages/480p/<video>/``).
    Each *item* (one image file, one video file, or one sub-folder) goes wholly to one split, chosen by a
    stable hash of its name, so frames of the same video never leak across splits.

    Args:
        root: the folder.
        test_fraction: fraction of items held out for the test split.
        seed: salt of the split hash; change it for a different split.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: the folder holds no usable item, or a split would be empty.
    """

    def __init__(self, root: str | Path, test_fraction: float = 0.2, seed: int = 0) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(f"FolderTextures: no such folder {self.root}")
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"FolderTextures: test_fraction must be in (0, 1), got {test_fraction}")
        items = sorted(
            p for p in self.root.iterdir() if p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES
        )
        items = [p for p in items if not p.is_dir() or any(self._frames_in(p))]
        if not items:
            raise ValueError(f"FolderTextures: no images, videos or frame folders in {self.root}")
        bucket = {p: (_seed_for(seed, p.name) % 10_000) / 10_000 for p in items}
        test = [p for p in items if bucket[p] < test_fraction]
        train = [p for p in items if bucket[p] >= test_fraction]
        if len(items) >= 2 and (not test or not train):
            # Tiny folders: the hash may put everything on one side; fall back to a deterministic cut.
            k = max(1, round(len(items) * test_fraction))
            order = sorted(items, key=lambda p: bucket[p])
            test, train = order[:k], order[k:]
        if not test or not train:
            raise ValueError(f"FolderTextures: need at least 2 items in {self.root} to make a train/test split")
        self._items: dict[str, list[Path]] = {"train": train, "test": test}
        self._frames: dict[Path, list[Path]] = {}

    @staticmethod
    def _frames_in(folder: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def items(self, split: Split) -> list[Path]:
        """The files/folders assigned to ``split``."""
        _check_split(split, "FolderTextures")
        return list(self._items[split])

    def _load(self, path: Path, frame: int) -> np.ndarray:
        import imageio.v3 as iio

        if path.is_dir():
            frames = self._frames.setdefault(path, self._frames_in(path))
            img = iio.imread(frames[frame % len(frames)])
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            try:
                img = iio.imread(path, index=frame)
            except (IndexError, StopIteration, OSError):
                img = iio.imread(path, index=0)
        else:
            img = iio.imread(path)
        img = np.asarray(img)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        return img[..., :3].astype(np.uint8)

    def texture(self, split: Split, index: int, size: tuple[int, int]) -> np.ndarray:
        """Texture ``index``: item ``index % n_items``, frame ``index // n_items`` for videos/frame folders."""
        items = self.items(split)
        path = items[index % len(items)]
        return _resize(self._load(path, index // len(items)), size)

    def __repr__(self) -> str:
        return f"FolderTextures({str(self.root)!r}, train={len(self._items['train'])}, test={len(self._items['test'])})"


def as_texture_source(source: TextureSource | str | Path | None) -> TextureSource:
    """``None`` -> :class:`ProceduralTextures`; a path -> :class:`FolderTextures`; a source -> itself."""
    if source is None:
        return ProceduralTextures()
    if isinstance(source, (str, Path)):
        return FolderTextures(source)
    if not isinstance(source, TextureSource):
        raise TypeError(f"texture source must be a path, None or a TextureSource, got {type(source).__name__}")
    return source


# --------------------------------------------------------------------------------------------------------
# Texture banks: textures compiled into a model so that a randomisation term swaps them by id, at no cost
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextureBank:
    """Texture ids compiled into a model, per split, that a term may show by swapping ids.

    Attributes:
        kind: ``"skybox"`` (cube textures shown as the background) or ``"2d"`` (material textures).
        ids: texture ids per split, e.g. ``{"train": (3, 4, ...), "test": (40, 41, ...)}``.
    """

    kind: Literal["skybox", "2d"]
    ids: Mapping[str, tuple[int, ...]]


_BANKS = (("skybox", "twist_sky", "skybox"), ("floor", "twist_floor", "2d"))


def bank_assets_xml(n_train: int, n_test: int, skybox_face: int = 128, floor_size: int = 128) -> str:
    """MJCF ``<texture>`` placeholders for a ``"skybox"`` bank and a ``"floor"`` bank (put them in ``<asset>``).

    Place them *after* the model's own skybox: MuJoCo draws the first skybox texture until a term swaps it.
    Fill them with :func:`fill_texture_banks` after compiling.
    """
    out = []
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            out.append(
                f'<texture name="twist_sky_{split}_{i}" type="skybox" builtin="flat" rgb1="0 0 0" rgb2="0 0 0" '
                f'width="{skybox_face}" height="{skybox_face}"/>'
            )
            out.append(
                f'<texture name="twist_floor_{split}_{i}" type="2d" builtin="flat" rgb1="0 0 0" rgb2="0 0 0" '
                f'width="{floor_size}" height="{floor_size}"/>'
            )
    return "\n".join(out)


def fill_texture_banks(
    model: mujoco.MjModel, source: TextureSource, n_train: int, n_test: int
) -> dict[str, TextureBank]:
    """Write the source's textures into the placeholders of :func:`bank_assets_xml`; return the banks by name.

    Texture ``i`` of split ``s`` of the source goes into placeholder ``i`` of ``s``, so the train and test
    banks inherit the source's split (procedural: disjoint families; folders: disjoint videos).
    """
    banks: dict[str, TextureBank] = {}
    for bank, prefix, kind in _BANKS:
        ids: dict[str, tuple[int, ...]] = {}
        for split, n in (("train", n_train), ("test", n_test)):
            split_ids = []
            for i in range(n):
                tid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_TEXTURE, f"{prefix}_{split}_{i}")
                if tid < 0:
                    raise ValueError(f"fill_texture_banks: placeholder {prefix}_{split}_{i} missing from the model")
                w, h, nc = int(model.tex_width[tid]), int(model.tex_height[tid]), int(model.tex_nchannel[tid])
                face = source.texture(split, i, (w, w))  # (w, w, 3)
                pix = np.tile(face, (h // w, 1, 1))  # (h, w, 3): a cube texture stacks its 6 faces vertically
                if nc == 4:
                    pix = np.concatenate([pix, np.full(pix.shape[:2] + (1,), 255, np.uint8)], axis=-1)
                adr = int(model.tex_adr[tid])
                model.tex_data[adr : adr + pix.size] = pix[..., :nc].reshape(-1)
                split_ids.append(int(tid))
            ids[split] = tuple(split_ids)
        banks[bank] = TextureBank(kind, ids)  # type: ignore[arg-type]
    return banks
