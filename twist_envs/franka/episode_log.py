"""The real env's episode log: one JSON line per episode, and the policy's frames and actions beside it.

``FrankaRealEnv(log_dir=...)`` keeps, in that folder::

    episodes.jsonl      one record per episode, appended when it ends (or is aborted), flushed at once
    episode_000.npz     pixels (T+1, H, W, 3) uint8, actions (T, A), rewards (T,): what the policy saw and did

A record says what was asked and what happened: the episode number, ``status`` (``"done"``, or
``"aborted"`` with the ``reason``: Ctrl-C, a ``HardwareError``, ``close()`` or ``reset()`` before the last
step), the reset seed, where the operator was asked to put the cube and the goal, the robot, camera and
success source, steps, return, ``success`` and who judged it (``judged_by``), the controller errors the
safety layer recovered from, the final tool and cube positions (``null`` where unknown), the view
randomisation the sim twin drew (``view``), the frame file, and wall-clock start and duration. Records of an
earlier session in the same folder are kept: numbering continues after them.

The frame file is in the format :class:`~twist_envs.franka.hardware.camera.ReplayCamera` reads
(``"pixels"``), so a real episode can be replayed through the env offline.

Example:
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> log = EpisodeLog(d)
    >>> log.start(seed=3, block_xy=[0.5, 0.0], goal_xy=[0.6, 0.1], first_pixels=np.zeros((8, 8, 3), np.uint8))
    >>> log.step(np.zeros(3), 0.5, np.zeros((8, 8, 3), np.uint8), controller_error=None)
    >>> log.finish(success=True, judged_by="SimOperator", final={"ee_pos": [0.5, 0.0, 0.2]})
    >>> rec = json.loads((d / "episodes.jsonl").read_text())
    >>> rec["episode"], rec["status"], rec["steps"], rec["return"], rec["success"], rec["frames"]
    (0, 'done', 1, 0.5, True, 'episode_000.npz')
    >>> np.load(d / rec["frames"])["pixels"].shape
    (2, 8, 8, 3)
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

EPISODE_LOG = "episodes.jsonl"
"""File name of the per-episode records inside the log folder."""


def _jsonable(value: Any) -> Any:
    """Numbers, arrays and nested containers as JSON values; NaN/inf as ``null`` (unknown)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


class EpisodeLog:
    """Writes :data:`EPISODE_LOG` and the frame files of one env into ``log_dir`` (created if missing).

    Args:
        log_dir: the folder.
        context: constant fields of every record (task, robot, camera, success source).
        frames: also save each episode's policy images and actions (``episode_NNN.npz``).
    """

    def __init__(self, log_dir: str | Path, context: Mapping[str, Any] | None = None, frames: bool = True):
        self.dir = Path(log_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / EPISODE_LOG
        self.context = dict(context or {})
        self.frames = frames
        self.next_episode = self._count_records()
        self._current: dict[str, Any] | None = None

    def _count_records(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open() as f:
            return sum(1 for line in f if line.strip())

    @property
    def in_progress(self) -> bool:
        """Whether an episode was started and has not been written yet."""
        return self._current is not None

    def start(
        self,
        seed: int | None,
        block_xy: Any,
        goal_xy: Any,
        first_pixels: np.ndarray,
        view: Mapping[str, Any] | None = None,
    ) -> None:
        """A new episode (an unfinished one is first written as aborted)."""
        if self._current is not None:
            self.abort("reset() before the episode's last step")
        self._current = {
            "episode": self.next_episode,
            "seed": seed,
            "block_xy": block_xy,
            "goal_xy": goal_xy,
            "view": dict(view) if view else None,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "_t0": time.monotonic(),
            "_pixels": [np.asarray(first_pixels, np.uint8)],
            "_actions": [],
            "_rewards": [],
            "controller_errors": [],
        }
        self.next_episode += 1

    def step(self, action: Any, reward: float, pixels: np.ndarray, controller_error: str | None) -> None:
        """One env step of the current episode."""
        cur = self._current
        if cur is None:
            return
        cur["_actions"].append(np.asarray(action, np.float32))
        cur["_rewards"].append(float(reward))
        cur["_pixels"].append(np.asarray(pixels, np.uint8))
        if controller_error is not None:
            cur["controller_errors"].append({"step": len(cur["_actions"]), "error": controller_error})

    def finish(self, success: bool, judged_by: str, final: Mapping[str, Any]) -> None:
        """The episode's last step: writes its record (``status="done"``)."""
        self._write("done", None, {"success": bool(success), "judged_by": judged_by, **final})

    def abort(self, reason: str) -> None:
        """Writes the current episode, if any, as aborted (Ctrl-C, a hardware error, closed early)."""
        if self._current is not None:
            self._write("aborted", reason, {"success": None})

    def _write(self, status: str, reason: str | None, extra: Mapping[str, Any]) -> None:
        cur, self._current = self._current, None
        if cur is None:
            return
        actions, rewards, pixels = cur.pop("_actions"), cur.pop("_rewards"), cur.pop("_pixels")
        duration = time.monotonic() - cur.pop("_t0")
        frames = None
        if self.frames and pixels:
            frames = f"episode_{cur['episode']:03d}.npz"
            tmp = self.dir / f".{frames}.tmp.npz"
            np.savez_compressed(
                tmp,
                pixels=np.stack(pixels),
                actions=np.stack(actions) if actions else np.zeros((0, 0), np.float32),
                rewards=np.asarray(rewards, np.float32),
            )
            os.replace(tmp, self.dir / frames)
        record = {
            "episode": cur.pop("episode"),
            "status": status,
            **({"reason": reason} if reason else {}),
            **self.context,
            **cur,
            "steps": len(actions),
            "return": float(np.sum(rewards)) if rewards else 0.0,
            **extra,
            "frames": frames,
            "duration_s": round(duration, 3),
        }
        with self.path.open("a") as f:
            f.write(json.dumps(_jsonable(record)) + "\n")
            f.flush()
            os.fsync(f.fileno())


__all__ = ["EPISODE_LOG", "EpisodeLog"]
