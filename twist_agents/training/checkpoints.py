"""Run checkpoints: written atomically, rotated, and read back newest-first past damaged ones.

A checkpoint is a folder ``run_dir/checkpoints/ckpt-<env_steps>/`` holding ``agent.pt`` and ``loop.pt``
(``loop.pt`` is written last, so a folder without it is incomplete). Damaged checkpoints are named in a
warning and set aside into ``checkpoints/corrupt/``, never deleted.
"""

from __future__ import annotations

import logging
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from twist_agents.data import atomic_directory, move_aside
from twist_agents.errors import RunFileError, describe
from twist_agents.protocol import Agent

T = TypeVar("T")

CORRUPT_DIR = "corrupt"
"""Sub-folder of ``checkpoints/`` that receives checkpoints that fail to load (nothing is deleted)."""
SUPERSEDED_DIR = "superseded"
"""Sub-folder of ``checkpoints/`` for checkpoints newer than the run's step count after episodes were set aside."""
MIN_KEEP_CHECKPOINTS = 2
"""Checkpoints kept at least, whatever ``keep_checkpoints`` says: a torn newest one always has a fallback."""

log = logging.getLogger(__name__)


def _checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint folders (``loop.pt`` is written last), oldest first."""
    ckpt_dir = run_dir / "checkpoints"
    if not ckpt_dir.exists():
        return []
    return sorted(p for p in ckpt_dir.iterdir() if p.name.startswith("ckpt-") and (p / "loop.pt").exists())


def _checkpoint_damage(ckpt: Path) -> str | None:
    """Why a checkpoint folder is unreadable judging by its files' zip directories (cheap), or ``None``.

    ``torch.save`` writes zip archives; a truncated file has no central directory at its end.
    """
    for name in ("agent.pt", "loop.pt"):
        try:
            with zipfile.ZipFile(ckpt / name):
                pass
        except (zipfile.BadZipFile, OSError) as e:
            return f"{name}: {type(e).__name__}: {e}"
    return None


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder of a run whose files look intact, or ``None``.

    A newer checkpoint whose ``agent.pt`` / ``loop.pt`` is torn (see :func:`_checkpoint_damage`) is
    reported as a warning and skipped, so callers get the previous one.
    """
    for ckpt in reversed(_checkpoints(Path(run_dir))):
        reason = _checkpoint_damage(ckpt)
        if reason is None:
            return ckpt
        log.warning("checkpoint %s does not load (%s); trying the previous one", ckpt, reason)
    return None


def load_newest_checkpoint(
    run_dir: str | Path, load: Callable[[Path], T], set_aside: bool = True
) -> tuple[Path, T] | None:
    """Call ``load(checkpoint_folder)`` on the newest checkpoint, falling back to older ones.

    A checkpoint whose ``load`` raises is reported (a warning with its path and the reason) and, with
    ``set_aside``, moved into ``checkpoints/corrupt/`` so that checkpoint rotation never deletes the good
    older one in its favour. Nothing is deleted.

    Args:
        run_dir: the run directory.
        load: reads one checkpoint folder (e.g. ``agent.load(folder / "agent.pt")``) and returns what it read.
        set_aside: move checkpoints that fail into ``checkpoints/corrupt/`` (training resumes); ``False``
            leaves the run untouched (evaluation).

    Returns:
        ``(folder, load(folder))`` of the newest checkpoint that loads, or ``None`` if the run has none.

    Raises:
        RunFileError: checkpoints exist but none of them loads (names each and why).
    """
    run_dir = Path(run_dir)
    failures: list[str] = []
    for ckpt in reversed(_checkpoints(run_dir)):
        try:
            return ckpt, load(ckpt)
        except Exception as e:  # noqa: BLE001  (any damage: torn zip, bad pickle, missing keys)
            reason = describe(e)
        failures.append(f"{ckpt.name}: {reason}")
        moved = move_aside(ckpt, ckpt.parent / CORRUPT_DIR) if set_aside else None
        log.warning(
            "checkpoint %s does not load (%s)%s; trying the previous one",
            ckpt,
            reason,
            f"; moved it to {moved}" if moved is not None else "",
        )
    if not failures:
        return None
    what_to_do = (
        f"they were moved to {run_dir / 'checkpoints' / CORRUPT_DIR}; run the same command again to retrain the "
        "agent from the stored episodes, or use a new run directory"
        if set_aside
        else "train the run again with `twist train` (it keeps the stored episodes)"
    )
    raise RunFileError(f"no checkpoint of {run_dir} loads ({'; '.join(failures)}); {what_to_do}")


def save_checkpoint(run_dir: Path, agent: Agent, loop_state: dict[str, Any], keep: int) -> Path:
    """Write ``agent.pt`` + ``loop.pt`` into a temp folder, then rename it into place (atomic).

    Keeps the newest ``max(keep, MIN_KEEP_CHECKPOINTS)`` checkpoints. Checkpoints *newer* than this one
    (the run's step count went back because damaged episodes were set aside) are moved into
    ``checkpoints/superseded/``: left in place, they would sort as the newest and be resumed instead of this one.
    """
    ckpt_dir = run_dir / "checkpoints"
    final = ckpt_dir / f"ckpt-{loop_state['counters']['env_steps']:010d}"
    # The folder is renamed into place whole; the same step count twice (a final checkpoint right after a
    # periodic one) replaces the earlier folder.
    with atomic_directory(final) as tmp:
        agent.save(tmp / "agent.pt")
        torch.save(loop_state, tmp / "loop.pt")
    for stale in [p for p in _checkpoints(run_dir) if p.name > final.name]:
        move_aside(stale, ckpt_dir / SUPERSEDED_DIR)
    for old in _checkpoints(run_dir)[: -max(keep, MIN_KEEP_CHECKPOINTS)]:
        shutil.rmtree(old, ignore_errors=True)
    return final
