"""Old home of evaluation; it lives in :mod:`twist_agents.training.evaluate` (re-exported here)."""

from twist_agents.training.evaluate import RETURNS_FILE, EvalResult, evaluate, make_eval_env, write_video

__all__ = ["RETURNS_FILE", "EvalResult", "evaluate", "make_eval_env", "write_video"]
