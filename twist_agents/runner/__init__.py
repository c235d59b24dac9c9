"""The runner: every agent by name behind one CLI (``twist train / eval / compare / demo``).

Modules (imported on demand, so ``twist --help`` stays fast):

- :mod:`~twist_agents.runner.agents`   the registry: ``AGENTS[name]`` -> how to train, load and evaluate it
- :mod:`~twist_agents.runner.runs`     one run: train into a run directory, evaluate, mark ``DONE``
- :mod:`~twist_agents.runner.compare`  the agents x envs x seeds grid, local processes or Ray tasks
- :mod:`~twist_agents.runner.results`  Table I, Oracle-normalised IQM with bootstrap CIs (rliable), plots
- :mod:`~twist_agents.runner.dreamer_runs` a request onto the Dreamer trainer and the TWIST pipeline, and back
- :mod:`~twist_agents.runner.demo`     ``twist demo``: the README's end-to-end TWIST run and its table
- :mod:`~twist_agents.runner.request`  ``TrainRequest``: what one training run asks for
- :mod:`~twist_agents.runner.validate` checks of a request before any work (ids, paths, numbers, Ray address)
- :mod:`~twist_agents.runner.cli`      the ``twist`` console script (a user error: one line, exit 2)

The runner sits on top: it imports the algorithms and the training layer (:mod:`twist_agents.training`), never
the other way round. ``loop``, ``metrics`` and ``evaluate`` here only re-export names that moved down there.
"""
