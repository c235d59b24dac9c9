"""TWIST agents behind one protocol (:class:`~twist_agents.protocol.Agent`).

Dreamer (``dreamer/``), TWIST distillation (``twist/``), asymmetric SAC (``sac/``), the episode store
(``data/``) and the runner with the ``twist`` CLI (``runner/``).
"""
