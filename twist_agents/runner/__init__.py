"""The runner: every agent by name behind one CLI (``twist train / eval / compare / demo``).

Modules (imported on demand, so ``twist --help`` stays fast):

- :mod:`~twist_agents.runner.agents`   the registry: ``AGENTS[name]`` -> how to train, load and evaluate it
- :mod:`~twist_agents.runner.runs`     one run: train into a run directory, evaluate, mark ``DONE``
- :mod:`~twist_agents.runner.evaluate` greedy episodes on a randomisation split; per-episode CSV and videos
- :mod:`~twist_agents.runner.compare`  the agents x envs x seeds grid, local processes or Ray tasks
- :mod:`~twist_agents.runner.results`  Table I, Oracle-normalised IQM with bootstrap CIs (rliable), plots
- :mod:`~twist_agents.runner.loop`     the episode-store training loop (Dreamer variants, the TWIST teacher)
- :mod:`~twist_agents.runner.metrics`  metrics CSV + TensorBoard
- :mod:`~twist_agents.runner.validate` checks of a request before any work (ids, paths, numbers, Ray address)
- :mod:`~twist_agents.runner.cli`      the ``twist`` console script (a user error: one line, exit 2)
"""
