"""Can the TWIST student's image encoder see the cube? A supervised read-out probe on BlockPush frames.

The TWIST student on ``TWIST/BlockPush-Sim-v0`` reads the cube 10.7-10.8 cm off on held-out appearances (its
teacher: 1.2-1.8 cm; always answering the mean position: 12 cm), so it acts as if it did not see the cube
(``franka_twist.py``'s read-out stage). This probe measures the easiest version of that perception task, with no
RSSM and no distillation: a supervised regression of the cube's xy and the tool tip's xyz from single 64x64
frames, with the student's encoder (:class:`~twist_agents.dreamer.networks.ConvEncoder`, at the ``cpu``
teacher's ``cnn_depth`` times ``--depth-mult``; :attr:`~twist_agents.twist.config.DistillConfig.cnn_depth` sets
it for a real student) and a linear head, and the two levers the image itself offers:

* ``--view default``: :data:`~twist_envs.franka.scene.DEFAULT_CAMERA`, where the 4 cm cube covers about 6 pixels
  and the block, goal and tool region fills about a quarter of the frame;
* ``--view zoomed``: the same camera position looking at the workspace's centre with a 26 degree field of view
  instead of 40, so that region fills most of the frame and the cube covers about 15 pixels. On hardware this
  is the camera's zoom or the RealSense crop (``camera_kwargs={"crop": ...}``), not a new viewpoint, so it
  occludes what the default view occludes.

* data: ``--episodes`` episodes of the env's scripted controller plus N(0, 0.3) action noise (the recipe's
  demonstrations: the cube moves, and the peg passes in front of it as in a push), train-randomised pixels
  (appearance every step, as in TWIST's dataset D);
* training: Adam, ``--batch`` random frames per step, targets standardised over the training frames, 1 torch
  thread;
* evaluation every ``--every`` steps on 6 *other* episodes rendered ``test`` (held-out appearances, once per
  episode) and ``train``: root-mean-square xy error in cm for the cube and the tip, beside the error of always
  answering the mean position (``*_spread_cm``: an error that large reads nothing), and the fit on training
  frames. The held-out error splits into ``*_bias_cm``, each episode's mean error (a misreading held for the
  episode) and ``*_resid_cm``, what varies within it (:func:`xy_errors_cm`);
* ``--no-camera-jitter``: all frames without the env's per-episode camera pose jitter (2 cm, 2 deg), which is not
  in the paper's simulated DR and moves where a fixed pixel lies on the table by ~5 cm (root mean square, from the
  pinhole geometry of the default camera ~1.2 m from the workspace).

Writes ``benchmarks/results/franka_perception.json``, one row per (view, depth, seed, camera jitter); a rerun
replaces its row::

    MUJOCO_GL=egl LP_NUM_THREADS=1 .venv/bin/python benchmarks/franka_perception.py --view default --seed 0
    MUJOCO_GL=egl LP_NUM_THREADS=1 .venv/bin/python benchmarks/franka_perception.py --view zoomed --seed 0
    MUJOCO_GL=egl LP_NUM_THREADS=1 .venv/bin/python benchmarks/franka_perception.py --no-camera-jitter --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from perception import add_readout_arguments, train_readout

ENV = "TWIST/BlockPush-Sim-v0"
RESULTS = Path(__file__).resolve().parent / "results" / "franka_perception.json"
HELD_SPLITS = ("test", "train")
HELD_EPISODES = 6
"""Held-out episodes per split (150 frames each)."""
PARTS = {"cube": ("block_pos", 2), "tip": ("ee_pos", 3)}
"""Read-out targets: the state field and how many of its leading coordinates (cube: x, y; tip: x, y, z)."""


def camera(view: str) -> Any:
    """The :class:`~twist_envs.franka.scene.CameraPose` of ``view`` (see the module docstring)."""
    from twist_envs.franka.scene import DEFAULT_CAMERA, CameraPose

    if view == "default":
        return DEFAULT_CAMERA
    if view == "zoomed":
        return CameraPose(pos=DEFAULT_CAMERA.pos, lookat=(0.52, 0.0, 0.06), fovy=26.0)
    raise SystemExit(f"franka_perception.py: unknown view {view!r}; choose 'default' or 'zoomed'")


def target_index() -> list[int]:
    """State indices of the read-out targets, in :data:`PARTS` order (cube x, y; tip x, y, z)."""
    from twist_envs.franka.sim import STATE_SLICES

    return [STATE_SLICES[field].start + i for field, n in PARTS.values() for i in range(n)]


def demo_frames(
    split: str, episodes: int, seed: int, view: str, terms: Any = None, **env_kwargs: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(N, 64, 64, 3)`` uint8 and targets ``(N, 5)`` (cube xy, tip xyz; metres) of noisy scripted pushes
    (``terms``: the env's randomisation terms; ``None``: its defaults; ``env_kwargs``: more of the env's settings,
    e.g. ``texture_source``)."""
    import gymnasium as gym

    import twist_envs  # noqa: F401 - registers the ids

    kwargs: dict[str, Any] = {} if terms is None else {"terms": terms}
    kwargs.update(env_kwargs)
    env = gym.make(ENV, obs_mode="paired", randomization=split, camera=camera(view), **kwargs)
    rng, index = np.random.default_rng(seed), target_index()
    low, high = env.action_space.low, env.action_space.high
    frames, targets = [], []
    try:
        for ep in range(episodes):
            obs, _ = env.reset(seed=seed * 10_000 + ep)
            done = False
            while not done:
                frames.append(obs["pixels"])
                targets.append(obs["state"][index])
                action = np.clip(env.unwrapped.expert_action() + rng.normal(0.0, 0.3, low.shape), low, high)
                obs, _, terminated, truncated, _ = env.step(action.astype(np.float32))
                done = terminated or truncated
    finally:
        env.close()
    return np.stack(frames), np.stack(targets).astype(np.float32)


def xy_errors_cm(pred: np.ndarray, true: np.ndarray, episodes: int = 0) -> dict[str, float]:
    """Root-mean-square xy error (cm) of ``pred`` against ``true`` (both ``(N, 5)``, metres) per part, and the
    spread: the error of always answering the mean.

    With ``episodes`` > 0 (``N`` frames of that many equally long episodes, in order) the error splits into
    ``*_bias_cm``, the root mean square over episodes of each episode's mean error (a misreading held for the
    episode, as ``franka_cube_noise.py``'s ``offset``), and ``*_resid_cm``, what varies within an episode (its
    ``jitter``); their squares add up to the error's."""
    out, at = {}, 0
    for part, (_, n) in PARTS.items():
        xy = slice(at, at + 2)
        err = pred[:, xy] - true[:, xy]  # (N, 2)
        out[f"{part}_xy_error_cm"] = round(100 * float(np.sqrt((err**2).sum(1).mean())), 2)
        if episodes:
            per_ep = err.reshape(episodes, -1, 2)  # (episodes, T, 2)
            bias = per_ep.mean(1, keepdims=True)
            out[f"{part}_xy_bias_cm"] = round(100 * float(np.sqrt((bias**2).sum(-1).mean())), 2)
            out[f"{part}_xy_resid_cm"] = round(100 * float(np.sqrt(((per_ep - bias) ** 2).sum(-1).mean())), 2)
        spread = true[:, xy] - true[:, xy].mean(0)
        out[f"{part}_xy_spread_cm"] = round(100 * float(np.sqrt((spread**2).sum(1).mean())), 2)
        at += n
    return out


def main() -> None:
    """Build the data, train encoder + linear head, evaluate on held-out episodes, write the JSON row."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--view", default="default", help="'default' or 'zoomed' (see above)")
    p.add_argument("--depth-mult", type=int, default=1, help="encoder channels x this (the cpu teacher's: 16)")
    p.add_argument(
        "--no-camera-jitter",
        action="store_true",
        help="train and held-out frames without the camera pose jitter (franka_terms(camera_jitter=False)); the "
        "row's key gains camera_jitter=False",
    )
    p.add_argument(
        "--wide-textures",
        action="store_true",
        help="training frames from wrappers.textures.WIDE_TRAIN_FAMILIES (9 families, not 4); held-out frames "
        "unchanged; the row's key gains train_families=wide",
    )
    p.add_argument(
        "--bank",
        type=int,
        default=32,
        help="training textures per bank (FrankaSimEnv train_textures; default 32); held-out frames unchanged; part "
        "of the row's key",
    )
    add_readout_arguments(p, episodes=200, frames=150, steps=10_000, batch=64, out=RESULTS)
    a = p.parse_args()
    camera(a.view)  # an unknown view fails before any work
    if min(a.depth_mult, a.episodes, a.steps, a.batch, a.every, a.bank) < 1:
        raise SystemExit(
            "franka_perception.py: --depth-mult, --episodes, --steps, --batch, --every, --bank must be >= 1"
        )
    os.environ.setdefault("MUJOCO_GL", "egl")
    import torch

    from twist_agents.dreamer.config import dreamer_config
    from twist_agents.dreamer.networks import ConvEncoder
    from twist_envs.franka.sim import franka_terms
    from wrappers.textures import WIDE_TRAIN_FAMILIES, ProceduralTextures

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    t0 = time.time()
    terms = franka_terms(camera_jitter=False) if a.no_camera_jitter else None
    looks: dict[str, Any] = {"train_textures": a.bank}
    if a.wide_textures:
        looks["texture_source"] = ProceduralTextures(train_families=WIDE_TRAIN_FAMILIES)
    frames, targets = demo_frames("train", a.episodes, 100 + a.seed, a.view, terms, **looks)
    held = {s: demo_frames(s, HELD_EPISODES, 900 + a.seed, a.view, terms) for s in HELD_SPLITS}
    data_s = time.time() - t0

    depth = dreamer_config("cpu").world_model.encoder.cnn_depth * a.depth_mult
    enc = ConvEncoder(3, depth, "silu")
    head = torch.nn.Linear(enc.out_dim, targets.shape[1])
    mean, std = targets.mean(0), targets.std(0) + 1e-6
    x_all, y_all = torch.as_tensor(frames), torch.as_tensor((targets - mean) / std)  # (N, 64, 64, 3), (N, 5)

    def predict(x: np.ndarray) -> np.ndarray:
        """Read-outs ``(N, 5)`` in metres."""
        with torch.no_grad():
            out = torch.cat([head(enc(torch.as_tensor(x[i : i + 256]))) for i in range(0, len(x), 256)])
        return out.numpy() * std + mean

    def report(step: int, train_s: float) -> dict[str, Any]:
        j = np.random.default_rng(step).integers(0, len(frames), 900)
        row: dict[str, Any] = {"step": step, "train_s": round(train_s, 1)}
        row["fit"] = xy_errors_cm(predict(frames[j]), targets[j])
        for s, (x, y) in held.items():
            row[s] = xy_errors_cm(predict(x), y, HELD_EPISODES)
        print(f"[franka_perception] {a.view} x{a.depth_mult} seed {a.seed} step {step}: fit {row['fit']} "
              f"test {row['test']}", flush=True)  # fmt: skip
        return row

    curve = train_readout(enc, head, x_all, y_all, a.steps, a.batch, a.lr, a.every, report)

    # How many pixels the cube covers in the plain scene's first frames: the image-size side of the lever.
    plain, _ = demo_frames("none", 1, 7, a.view)
    px = plain[:10].astype(int)
    cube_px = ((px[..., 0] > 180) & (px[..., 1] > 150) & (px[..., 2] < 80)).sum((1, 2))  # the yellow cube
    result = {
        "view": a.view,
        "camera": vars(camera(a.view)),
        "camera_jitter": not a.no_camera_jitter,
        "train_families": "wide" if a.wide_textures else "default",
        "train_textures": a.bank,
        "depth_mult": a.depth_mult,
        "seed": a.seed,
        "env": ENV,
        "encoder": f"ConvEncoder(cnn_depth={depth}) + linear head",
        "frames": len(frames),
        "steps": a.steps,
        "batch": a.batch,
        "lr": a.lr,
        "cube_pixels_plain_scene": float(np.median(cube_px)),
        "data_s": round(data_s, 1),
        "curve": curve,
        "final": curve[-1],
        "loadavg": os.getloadavg(),
    }
    rows = json.loads(a.out.read_text()) if a.out.exists() else []

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (
            r["view"],
            r["depth_mult"],
            r["seed"],
            r.get("camera_jitter", True),
            r.get("train_families", "default"),
            r.get("train_textures", 32),
        )

    rows = [r for r in rows if key(r) != key(result)] + [result]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
