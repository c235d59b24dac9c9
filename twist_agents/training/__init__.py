"""The training layer: what every trainer shares, below the algorithms (``dreamer``, ``twist``, ``sac``).

Modules (import the one you need; this package imports none of them, so importing it stays cheap):

- :mod:`~twist_agents.training.loop`        the episode-store training loop (:func:`~.loop.train`, ``LOOP_PRESETS``)
- :mod:`~twist_agents.training.checkpoints` atomic checkpoints, rotation, newest-first loading past damaged ones
- :mod:`~twist_agents.training.episodes`    observation dicts, episode rows and reset seeds of stored episodes
- :mod:`~twist_agents.training.envs`        ``make_env``: ``gym.make`` with the ``TWIST/`` ids registered
- :mod:`~twist_agents.training.evaluate`    greedy evaluation episodes; per-episode CSV and videos
- :mod:`~twist_agents.training.metrics`     metrics CSV + TensorBoard

This layer imports ``data`` and nothing above it: not the algorithms, not the runner.
"""
