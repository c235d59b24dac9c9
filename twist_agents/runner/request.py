"""What one training run asks for: :class:`TrainRequest` (the CLI's ``twist train``, one cell of ``compare``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainRequest:
    """One training run as the runner asks for it (CLI ``twist train``, one cell of ``compare``)."""

    agent: str
    """Agent name (a key of :data:`AGENTS`)."""
    env_id: str
    """Gymnasium id (e.g. ``TWIST/CartpoleBalance-Distracting-v0``)."""
    run_dir: Path
    """Run directory: config, metrics CSV, TensorBoard events, checkpoints, eval outputs."""
    preset: str = "cpu"
    """Size preset: ``debug`` (tests), ``cpu`` (this machine) or ``paper`` (paper scale)."""
    seed: int = 0
    """Seed of env and agent."""
    steps: int | None = None
    """Env-step budget (for ``twist``: the teacher's steps); ``None`` = the preset's default."""
    distill_updates: int | None = None
    """``twist`` only: student distillation updates; ``None`` = the preset's default."""
    max_episode_steps: int | None = None
    """Shorter training episodes (``None`` = the env's default, or the ``debug`` preset's)."""
    resume: bool = True
    """Continue from the run directory's checkpoint when there is one."""
    progress: bool = True
    """Show progress bars."""
