"""TWIST agents behind one protocol (:class:`~twist_agents.protocol.Agent`).

Bottom to top (nothing imports upward): the errors, the protocol and the preset names; the episode store
(``data/``); the training layer every trainer shares (``training/``); Dreamer (``dreamer/``) and asymmetric SAC
(``sac/``); TWIST distillation (``twist/``); the runner with the ``twist`` CLI (``runner/``).
"""
