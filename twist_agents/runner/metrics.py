"""Old home of the metrics logger; it lives in :mod:`twist_agents.training.metrics` (re-exported here)."""

from twist_agents.training.metrics import METRICS_FILE, TENSORBOARD_DIR, MetricsLogger

__all__ = ["METRICS_FILE", "TENSORBOARD_DIR", "MetricsLogger"]
