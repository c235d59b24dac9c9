"""Every agent by name: how it trains, which observation keys it may read, and how it is loaded.

========================  ====================  ================  =============================
name                      trains with            evaluated on      what it is
========================  ====================  ================  =============================
``twist``                 paired obs, DR train   pixels (test DR)  teacher on state -> student
``oracle``                state                  state             Dreamer on privileged state
``dreamer-dr``            pixels, DR train       pixels (test DR)  Dreamer with domain randomisation
``dreamer-nodr``          pixels, no DR          pixels (test DR)  Dreamer without randomisation
``state-recon``           pixels -> state        pixels (test DR)  Dreamer decoding state from pixels
``asym-sac``              paired obs, DR train   pixels (test DR)  asymmetric SAC (SB3)
========================  ====================  ================  =============================

Every agent is evaluated on ``randomization="test"`` (held-out appearances, randomised once per
episode), as in the paper's Table I. Heavy imports (torch models, SB3) happen inside the functions,
so ``twist --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twist_agents.errors import UserError
from twist_agents.presets import PRESETS
from twist_agents.protocol import Agent
from twist_agents.runner.dreamer_runs import load_dreamer_run, load_twist_run, train_dreamer_variant, train_twist_run
from twist_agents.runner.request import BUDGET_STEP_CAP, TrainRequest


@dataclass(frozen=True)
class AgentSpec:
    """How the runner trains, loads and evaluates one named agent."""

    name: str
    """CLI name."""
    title: str
    """Display name (the paper's column title)."""
    description: str
    """One line for ``--help``."""
    input_keys: tuple[str, ...]
    """Observation keys the trained agent reads when acting (all others are withheld at evaluation)."""
    train_randomization: str
    """Env ``randomization`` while training (``"train"`` or ``"none"``)."""
    train: Callable[[TrainRequest], dict[str, Any]]
    """Train (or resume) and leave the final checkpoint in the run directory; returns the training clock:
    ``train_s`` (training wall clock over all resumes, evaluation excluded), ``budget_exhausted``, and any
    per-stage details."""
    load: Callable[[Path, str], Agent]
    """``load(run_dir, preset)``: the trained agent, ready to act."""


PRESET_DEFAULTS: dict[str, dict[str, Any]] = {
    "debug": {"steps": 400, "max_episode_steps": 100, "eval_episodes": 2},
    "cpu": {"steps": 100_000, "max_episode_steps": None, "eval_episodes": 10},
    "paper": {"steps": 500_000, "max_episode_steps": None, "eval_episodes": 100},
}
"""Runner defaults per preset: env-step budget, episode length cap, evaluation episodes. ``debug`` keeps
every agent's run to seconds (100-step episodes) so that tests and a debug ``compare`` finish quickly."""


def resolve(request: TrainRequest) -> TrainRequest:
    """Fill ``steps`` / ``max_episode_steps`` left as ``None`` from :data:`PRESET_DEFAULTS`.

    With a wall-clock budget (``budget_minutes``) the counts left as ``None`` that would end training first
    (``steps``; ``twist``'s ``distill_updates``) become :data:`~twist_agents.runner.request.BUDGET_STEP_CAP`
    instead: the budget decides.
    """
    if request.preset not in PRESETS:
        raise UserError(f"unknown preset {request.preset!r}; choose one of {', '.join(PRESETS)}")
    d = PRESET_DEFAULTS[request.preset]
    from dataclasses import replace

    budget = request.budget_minutes is not None
    distill_updates = request.distill_updates
    if budget and distill_updates is None and request.agent == "twist":
        distill_updates = BUDGET_STEP_CAP
    return replace(
        request,
        steps=request.steps if request.steps is not None else BUDGET_STEP_CAP if budget else d["steps"],
        distill_updates=distill_updates,
        max_episode_steps=request.max_episode_steps
        if request.max_episode_steps is not None
        else d["max_episode_steps"],
    )


# ---------------------------------------------------------------------------- asymmetric SAC
def _train_asym_sac(req: TrainRequest) -> dict[str, Any]:
    from twist_agents.sac.train import read_clock, train_asym_sac

    agent = train_asym_sac(
        req.env_id,
        req.run_dir,
        preset=req.preset,
        seed=req.seed,
        steps=int(req.steps or 0),
        resume=req.resume,
        max_episode_steps=req.max_episode_steps,
        progress=req.progress,
        budget_s=req.budget_s,
    )
    clock = read_clock(req.run_dir)
    return {
        "train_s": clock.get("train_s"),
        "budget_exhausted": bool(clock.get("budget_exhausted", False)),
        "env_steps": int(agent.model.num_timesteps),
    }


def _load_asym_sac(run_dir: Path, preset: str) -> Agent:
    from twist_agents.sac.train import load_asym_sac

    return load_asym_sac(run_dir, preset)


# ---------------------------------------------------------------------------- Dreamer variants, TWIST
def _train_dreamer(req: TrainRequest) -> dict[str, Any]:
    return train_dreamer_variant(req)


def _load_dreamer(run_dir: Path, preset: str) -> Agent:
    return load_dreamer_run(run_dir)


def _train_twist(req: TrainRequest) -> dict[str, Any]:
    return train_twist_run(req)


def _load_twist(run_dir: Path, preset: str) -> Agent:
    return load_twist_run(run_dir)


AGENTS: dict[str, AgentSpec] = {
    "twist": AgentSpec(
        "twist",
        "TWIST",
        "state teacher Dreamer + image student distilled on its domain-randomised images (Alg. 1)",
        ("pixels",),
        "train",
        _train_twist,
        _load_twist,
    ),
    "oracle": AgentSpec(
        "oracle",
        "Oracle",
        "Dreamer on privileged simulator state (upper bound; evaluated on state)",
        ("state",),
        "train",
        _train_dreamer,
        _load_dreamer,
    ),
    "dreamer-dr": AgentSpec(
        "dreamer-dr",
        "Dreamer w/ DR",
        "pixel Dreamer trained with domain randomisation",
        ("pixels",),
        "train",
        _train_dreamer,
        _load_dreamer,
    ),
    "dreamer-nodr": AgentSpec(
        "dreamer-nodr",
        "Dreamer w/o DR",
        "pixel Dreamer trained without randomisation (randomization=none)",
        ("pixels",),
        "none",
        _train_dreamer,
        _load_dreamer,
    ),
    "state-recon": AgentSpec(
        "state-recon",
        "State Recon.",
        "pixel Dreamer whose decoder reconstructs the state",
        ("pixels",),
        "train",
        _train_dreamer,
        _load_dreamer,
    ),
    "asym-sac": AgentSpec(
        "asym-sac",
        "Asym. SAC",
        "SAC (SB3) with an image actor and a state critic (Pinto et al.)",
        ("pixels",),
        "train",
        _train_asym_sac,
        _load_asym_sac,
    ),
}
"""The registry: agent name -> :class:`AgentSpec`."""


def get_agent(name: str) -> AgentSpec:
    """The :class:`AgentSpec` of ``name``; :class:`~twist_agents.errors.UserError` lists the known names."""
    if name not in AGENTS:
        raise UserError(f"unknown agent {name!r}; choose one of {', '.join(AGENTS)}")
    return AGENTS[name]
