"""What each run of a ``twist compare`` grid did with its budget: one row per (agent, env, seed).

    .venv/bin/python benchmarks/table1_runs.py runs/table1_cpu benchmarks/results/table1_cpu

Reads every finished run's ``run.json`` and ``DONE`` and writes ``runs.json`` and ``runs.md`` into the output
folder: held-out mean return, measured training wall clock, whether the budget ended the run, env steps and
updates, and for ``twist`` its teacher's steps and the student's distillation updates. Table I says *how well*
each agent did at equal wall clock; this says *how much* training each agent got out of that clock.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def run_rows(runs_root: Path) -> list[dict[str, Any]]:
    """One dict per finished run under ``runs_root`` (``<agent>/<env>/seed<N>/DONE``), sorted."""
    rows = []
    for done in sorted(runs_root.glob("*/*/seed*/DONE")):
        run_dir = done.parent
        cfg = json.loads((run_dir / "run.json").read_text())
        result = json.loads(done.read_text())
        training = cfg.get("training") or {}
        row = {
            "agent": cfg["agent"],
            "env_id": cfg["env_id"],
            "seed": cfg["seed"],
            "heldout_mean_return": result.get("mean_return"),
            "train_s": cfg.get("train_s"),
            "budget_exhausted": cfg.get("budget_exhausted"),
            "workers": cfg.get("workers"),
            "torch_threads": cfg.get("torch_threads"),
            "env_steps": training.get("env_steps", training.get("teacher_env_steps")),
            "updates": training.get("updates", training.get("distill_updates_done")),
        }
        if cfg["agent"] == "twist":
            row.update(
                teacher_s=training.get("teacher_s"),
                distill_s=training.get("distill_s"),
                distill_updates=training.get("distill_updates_done"),
            )
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    head = "| agent | seed | held-out return | train s | env steps | updates |\n|---|---|---|---|---|---|\n"

    def fmt(x: Any, spec: str) -> str:
        return "-" if x is None else format(x, spec)

    return head + "".join(
        f"| {r['agent']} | {r['seed']} | {fmt(r['heldout_mean_return'], '.1f')} | {fmt(r['train_s'], '.0f')} | "
        f"{fmt(r['env_steps'], 'd')} | {fmt(r['updates'], 'd')} |\n"
        for r in rows
    )


def main() -> None:
    """Parse the two folders and write ``runs.json`` + ``runs.md``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grid", type=Path, help="the --out folder of twist compare (its runs/ is read)")
    p.add_argument("out", type=Path, help="folder for runs.json and runs.md")
    a = p.parse_args()
    rows = run_rows(a.grid / "runs")
    if not rows:
        raise SystemExit(f"table1_runs.py: no finished runs under {a.grid / 'runs'}")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "runs.json").write_text(json.dumps(rows, indent=1))
    (a.out / "runs.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
