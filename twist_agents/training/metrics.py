"""Scalar metrics of a run: one wide CSV (``metrics.csv``) plus TensorBoard events (``tb/``)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path

from twist_agents.data.atomic import atomic_write_text

METRICS_FILE = "metrics.csv"
"""Metrics CSV inside a run directory: column ``step`` then one column per metric name."""
TENSORBOARD_DIR = "tb"
"""TensorBoard event directory inside a run directory."""


class MetricsLogger:
    """Append scalar metrics to ``<run_dir>/metrics.csv`` and TensorBoard.

    The CSV is wide (``step`` then one column per metric); a metric that appears later widens the
    header (the file is rewritten once per new name). An existing file is appended to, so a resumed
    run continues its curves.

    Args:
        run_dir: The run directory.
        tensorboard: Also write TensorBoard events to ``<run_dir>/tb``.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with MetricsLogger(d, tensorboard=False) as log:
        ...     log.log(10, {"train/return": 1.5})
        ...     log.log(20, {"train/return": 2.0, "loss": 0.1})
        >>> (d / "metrics.csv").read_text().splitlines()
        ['step,train/return,loss', '10,1.5,', '20,2.0,0.1']
    """

    def __init__(self, run_dir: str | Path, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.columns: list[str] = ["step"]
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open(newline="") as f:
                self.columns = next(csv.reader(f))
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(Path(run_dir) / TENSORBOARD_DIR))

    def _widen(self, names: list[str]) -> None:
        rows: list[dict[str, str]] = []
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open(newline="") as f:
                rows = list(csv.DictReader(f))
        self.columns += names
        text = io.StringIO(newline="")
        w = csv.DictWriter(text, self.columns)
        w.writeheader()
        w.writerows(rows)
        # Rewritten whole and atomically: a run killed here keeps the old header and rows.
        atomic_write_text(self.path, text.getvalue())

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record ``metrics`` at env step ``step`` (non-finite values are kept in the CSV only)."""
        new = [k for k in metrics if k not in self.columns]
        if new or not self.path.exists():
            self._widen(new)
        with self.path.open("a", newline="") as f:
            row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
            csv.DictWriter(f, self.columns).writerow(row)
        if self._writer is not None:
            for k, v in metrics.items():
                if math.isfinite(float(v)):
                    self._writer.add_scalar(k, float(v), step)

    def close(self) -> None:
        """Flush and close TensorBoard."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
