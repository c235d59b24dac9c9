"""The one protocol every agent implements.

The runner (train / eval / compare) knows only this protocol, so TWIST, the Dreamer baselines and
asymmetric SAC are interchangeable behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

Observation = Mapping[str, np.ndarray]
"""One (unbatched) observation: ``{"state": (S,) float32, "pixels": (H, W, 3) uint8}`` or a subset."""


@runtime_checkable
class Agent(Protocol):
    """A learning agent as the runner sees it.

    ``state`` is the agent's recurrent state (e.g. the RSSM latent and the previous action); pass
    ``None`` at the start of every episode and feed back what ``act`` returned.
    """

    def act(self, obs: Observation, state: Any, explore: bool) -> tuple[np.ndarray, Any]:
        """Return ``(action, new_state)`` for one observation; ``explore`` samples instead of the mode."""
        ...

    def update(self, batch: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Do one gradient update on a batch of sequences ``(B, T, ...)``; return scalar metrics."""
        ...

    def save(self, path: str | Path) -> None:
        """Write everything needed to act and to resume training to ``path`` (atomically)."""
        ...

    def load(self, path: str | Path) -> None:
        """Restore what :meth:`save` wrote, in place."""
        ...
