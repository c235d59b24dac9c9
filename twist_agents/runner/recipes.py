"""Per-task training settings the runner adds to a preset: what the Franka block tasks need to be learned at all.

A preset (``debug`` / ``cpu`` / ``paper``) sizes the networks and the loop for every task alike. The Franka block
tasks need three more things, measured with the state Dreamer (the TWIST teacher's agent) on
``TWIST/BlockPush-Sim-v0`` at the ``cpu`` preset, 25 to 90 minutes per run, 2 seeds each, 20 trials with the policy's
mode (``benchmarks/franka_teacher_probe.py``):

- **Standardised state** (:attr:`~twist_agents.dreamer.config.WorldModelConfig.standardize_vectors`). The state
  mixes joint velocities of order 1 with a cube position that moves by centimetres (0.0x in metres); under
  DreamerV3's symlog alone an error of centimetres in the cube's position costs ~1e-4 in the reconstruction
  loss and the world model does not track it: on the scripted controller's pushes the filtered cube position is
  9.7-11.2 cm off.
- **Demonstrations in the prefill** (:attr:`~twist_agents.training.loop.LoopConfig.prefill_expert`; not in the
  paper): a 4500-step prefill, half of its episodes driven by the env's scripted controller plus N(0, 0.3) action
  noise. Random exploration almost never moves the cube, so without them the model has no push to learn from.
- **The arm's collision reflex in the training env** (``contact_force_limit``, :data:`REFLEX_LIMIT_N` = 30 N;
  not in the paper): a step that leaves more contact force on the robot ends the episode, as the real arm's
  reflex stops it. Without it the teacher learns to press the cube into the table (up to 171 N; 4 and 15 of
  20 episodes over 30 N after 90 minutes), which no real arm tolerates, so its student could not be deployed.

Either of the first two alone scores 0/20 on both seeds (the cube ends -2.8 to 0.0 cm closer to the goal);
together 1/20 and 8/20 (2.7 and 8.6 cm), the cube tracked within 1.8-2.1 cm, and the same runs resumed to 50
minutes (204k env steps) 10/20 and 13/20 (11 cm). With the reflex as well: 8/20 and 8/20 at 25 minutes and
**17/20 and 17/20** at 50 minutes (207k and 204k env steps; 16/20 and 17/20 without crossing 30 N, 1 and 0 of 20
episodes over it), where the teachers without it still score 11/20 and 5/20 below 30 N at 90 minutes. On
``TWIST/BlockLift-Sim-v0`` (25 minutes, first two only): 0/20 and 5/20 with them, 0/20 on both seeds without.

The recipe applies to every Dreamer variant and to TWIST's teacher alike, so that ``twist compare`` stays a
like-for-like comparison; the run's ``config.json`` records the settings it trained with.
``TrainRequest(task_recipe=False)`` (``--no-task-recipe``) trains with the preset alone. Asymmetric SAC trains
with its own loop and gets none of them.

Example:
    >>> recipe_for("TWIST/BlockPush-Sim-v0").world_model
    {'standardize_vectors': True}
    >>> recipe_for("TWIST/CartpoleBalance-Distracting-v0")
    Recipe(loop={}, world_model={}, env={})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REFLEX_LIMIT_N = 30.0
"""Contact force in newtons above which the recipe ends a training episode: the real arm's collision reflex,
``twist_envs.franka.scene.REFLEX_FORCE_N`` (a test keeps the two equal; that module is not imported here because
it brings MuJoCo, and ``twist --help`` must stay fast)."""

MANIPULATION_ENVS: tuple[str, ...] = ("TWIST/BlockPush-Sim-v0", "TWIST/BlockLift-Sim-v0")
"""The env ids the manipulation recipe applies to (the simulated Franka block tasks, which have a scripted
controller; their real counterparts are only deployed to, never trained in)."""


@dataclass(frozen=True)
class Recipe:
    """Settings added to a preset for one env: loop fields and world-model fields to replace (both may be empty)."""

    loop: dict[str, Any] = field(default_factory=dict)
    """:class:`~twist_agents.training.loop.LoopConfig` fields."""
    world_model: dict[str, Any] = field(default_factory=dict)
    """:class:`~twist_agents.dreamer.config.WorldModelConfig` fields."""
    env: dict[str, Any] = field(default_factory=dict)
    """``gym.make`` keywords of the *training* env (and of its in-loop evaluations); evaluation after training,
    ``twist eval`` and deployment do not get them."""


def recipe_for(env_id: str) -> Recipe:
    """The recipe of ``env_id``: the manipulation recipe (see the module) for :data:`MANIPULATION_ENVS`, else none."""
    if env_id in MANIPULATION_ENVS:
        return Recipe(
            loop={"prefill": 4500, "prefill_expert": 0.5, "prefill_expert_noise": 0.3},
            world_model={"standardize_vectors": True},
            env={"contact_force_limit": REFLEX_LIMIT_N},
        )
    return Recipe()
