"""The size presets every component is configured by: their names and the one check of a name.

==========  ===========================================================================
preset      what it is for
==========  ===========================================================================
``debug``   tests: tiny networks and budgets, every run finishes in seconds
``cpu``     this project's 2-core CPU machine: learns the small tasks in tens of minutes
``paper``   the paper's scale (DreamerV3 DMC defaults, TWIST's Algorithm 1 settings)
==========  ===========================================================================

Each component keeps its own settings per preset next to its config (Dreamer sizes in
:func:`~twist_agents.dreamer.config.dreamer_config`, loop settings in
:data:`~twist_agents.training.loop.LOOP_PRESETS`, distillation in
:func:`~twist_agents.twist.config.distill_config`, SAC in :data:`~twist_agents.sac.agent.SAC_PRESETS`, run
budgets in :data:`~twist_agents.runner.agents.PRESET_DEFAULTS`); every one of those tables is keyed by
:data:`PRESETS` and checks a name with :func:`check_preset`.
"""

from __future__ import annotations

PRESETS: tuple[str, ...] = ("debug", "cpu", "paper")
"""The preset names, smallest first."""


def check_preset(preset: str, where: str) -> str:
    """Return ``preset`` if it is one of :data:`PRESETS`, else raise ``ValueError`` naming ``where``.

    Example:
        >>> check_preset("cpu", "dreamer_config")
        'cpu'
        >>> check_preset("huge", "dreamer_config")
        Traceback (most recent call last):
        ...
        ValueError: dreamer_config: unknown preset 'huge'; choose one of ('debug', 'cpu', 'paper')
    """
    if preset not in PRESETS:
        raise ValueError(f"{where}: unknown preset {preset!r}; choose one of {PRESETS}")
    return preset
