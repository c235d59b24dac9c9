"""What one training run asks for: :class:`TrainRequest` (the CLI's ``twist train``, one cell of ``compare``).

Each field carries its command-line help in ``metadata`` (see :data:`CLI_KEYS`); ``twist train`` builds one
option per field from :func:`dataclasses.fields`, so a field cannot exist without its option, and an option's
name, type and default cannot drift from the field's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BUDGET_STEP_CAP = 1_000_000_000
"""The step (and ``twist`` distillation update) cap of a run with a wall-clock budget and no explicit count:
never reached, so the budget decides."""

CLI_KEYS: dict[str, str] = {
    "help": "the option's help text (required; `(default: X)` is appended for a default that is not None)",
    "flag": "the option's name when it is not `--field-name` (a bool field defaulting to True: `--no-field-name`)",
    "metavar": "the placeholder shown in the usage line",
    "min": "an int field's smallest accepted value (0 or 1)",
    "cli_default": "a field without a dataclass default that the CLI may leave out: the option's default "
    "(the command derives the value from the other fields)",
}
"""The keys a :class:`TrainRequest` field's ``metadata`` may hold, and what each means to the CLI."""


@dataclass(frozen=True)
class TrainRequest:
    """One training run as the runner asks for it (CLI ``twist train``, one cell of ``compare``)."""

    agent: str = field(metadata={"help": "agent to train", "metavar": "AGENT"})
    """Agent name (a key of :data:`AGENTS`)."""
    env_id: str = field(
        metadata={"help": "Gymnasium env id, e.g. TWIST/CupCatch-Distracting-v0", "flag": "--env", "metavar": "ENV_ID"}
    )
    """Gymnasium id (e.g. ``TWIST/CartpoleBalance-Distracting-v0``)."""
    run_dir: Path = field(
        metadata={"help": "run directory (default: runs/<agent>/<env>/seed<seed>)", "cli_default": None}
    )
    """Run directory: config, metrics CSV, TensorBoard events, checkpoints, eval outputs."""
    preset: str = field(default="cpu", metadata={"help": "size preset of networks and budgets"})
    """Size preset: ``debug`` (tests), ``cpu`` (this machine) or ``paper`` (paper scale)."""
    seed: int = field(default=0, metadata={"help": "seed of env and agent", "min": 0})
    """Seed of env and agent."""
    steps: int | None = field(
        default=None,
        metadata={
            "help": "env-step budget per run (twist: the teacher's steps); default: the preset's, or with "
            "--budget-minutes unlimited (the budget decides)",
            "min": 1,
        },
    )
    """Env-step budget (for ``twist``: the teacher's steps); ``None`` = the preset's default, or
    :data:`BUDGET_STEP_CAP` with ``budget_minutes``."""
    budget_minutes: float | None = field(
        default=None,
        metadata={
            "help": "wall-clock budget of each run's training, in minutes: training time in the run's process, "
            "summed over resumes, without the in-loop evaluation episodes and the final held-out evaluation; "
            "without --steps the step cap is unlimited and the budget decides (twist: 2/3 to the teacher, the "
            "rest to distillation)",
            "metavar": "M",
        },
    )
    """Training wall-clock budget in minutes (``None``: none; see :mod:`twist_agents.runner.runs`)."""
    distill_updates: int | None = field(
        default=None,
        metadata={
            "help": "twist only: student distillation updates (default: the preset's; with --budget-minutes: "
            "unlimited, the budget decides)",
            "min": 1,
        },
    )
    """``twist`` only: student distillation updates; ``None`` = the preset's default, or :data:`BUDGET_STEP_CAP`
    with ``budget_minutes`` (distillation then runs until the rest of the budget is spent)."""
    max_episode_steps: int | None = field(
        default=None,
        metadata={
            "help": "cap episodes at this many env steps (training and evaluation); default: the preset's "
            "(debug: 100) or the env's own (500 for Distracting Control)",
            "min": 1,
        },
    )
    """Shorter training episodes (``None`` = the env's default, or the ``debug`` preset's)."""
    resume: bool = field(default=True, metadata={"help": "start from scratch even if a checkpoint exists"})
    """Continue from the run directory's checkpoint when there is one."""
    progress: bool = field(default=True, metadata={"help": "hide the progress bars"})
    """Show progress bars."""
    task_recipe: bool = field(
        default=True,
        metadata={
            "help": "train with the preset alone, without the env's recipe (the Franka block tasks: demonstrations "
            "in the prefill, standardised state, the arm's 30 N reflex in the training env; see "
            "twist_agents.runner.recipes)"
        },
    )
    """Add the env's :func:`~twist_agents.runner.recipes.recipe_for` settings to the preset (on by default)."""

    @property
    def budget_s(self) -> float:
        """``budget_minutes`` in seconds; 0.0 for none (the trainers' convention)."""
        return 60.0 * self.budget_minutes if self.budget_minutes is not None else 0.0
