"""Results of a comparison grid: the Table-I-style table, Oracle-normalised IQM with bootstrap CIs, plots.

Everything here is computed from the per-episode evaluation returns that every run stores
(``<run>/eval/<split>/returns.csv``, one row per episode), never from summaries:

- **Table** (Table I of the TWIST paper): per agent x task, the mean episodic return over all evaluation
  episodes of all seeds, and the standard deviation *across seeds* of the per-seed mean return (the
  paper reports "averaged episodic rewards and standard deviation obtained from 100 trials with 3
  seeds"; with one seed the std is 0). Block tasks also get the success rate (``info["success"]`` at
  episode end).
- **Aggregate IQM** (Fig. 2 of the paper, computed with rliable, Agarwal et al. 2021): every
  episodic return is divided by the Oracle's mean return on the same task; for each agent the scores
  form a ``(num_episodes, num_tasks)`` matrix (all episodes of all seeds of a task are the runs of that
  task, as the paper pools "100 trials with 3 seeds"); the interquartile mean (25 % trimmed mean over
  the whole matrix) gets a 95 % stratified-bootstrap percentile CI (runs resampled within each task).
  Tasks with different episode counts are cut to the smallest count so that the matrix is rectangular.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PAPER_AGENTS: tuple[str, ...] = ("oracle", "twist", "dreamer-nodr", "dreamer-dr", "state-recon", "asym-sac")
"""Agent names in the column order of the paper's Table I."""

AGENT_TITLES: dict[str, str] = {
    "oracle": "Oracle",
    "twist": "TWIST",
    "dreamer-nodr": "Dreamer w/o DR",
    "dreamer-dr": "Dreamer w/ DR",
    "state-recon": "State Recon.",
    "asym-sac": "Asym. SAC",
}
"""Display names of the agents (the paper's column titles)."""

# Table I of the TWIST paper (500K env steps; mean +- std over 100 episodes x 3 seeds, held-out scenes).
# Columns in the paper: Oracle (Dreamer), TWIST, Dreamer w/o DR, Dreamer w/ DR, Dreamer State Recon.,
# Asymmetric SAC.
_PAPER_ROWS: dict[str, tuple[tuple[float, float], ...]] = {
    "TWIST/CupCatch-Distracting-v0": (
        (936.6, 0.1),
        (856.6, 29.6),
        (150.7, 80.3),
        (744.3, 93.8),
        (627.0, 194.7),
        (873.0, 11.1),
    ),
    "TWIST/CartpoleBalance-Distracting-v0": (
        (992.9, 1.7),
        (954.5, 37.4),
        (349.3, 19.0),
        (590.8, 23.0),
        (869.7, 40.4),
        (353.1, 18.6),
    ),
    "TWIST/CheetahRun-Distracting-v0": (
        (597.1, 24.3),
        (506.0, 54.2),
        (206.5, 40.3),
        (476.4, 61.1),
        (391.6, 4.5),
        (222.5, 20.4),
    ),
    "TWIST/HopperStand-Distracting-v0": (
        (501.1, 38.9),
        (483.3, 118.9),
        (42.1, 11.2),
        (471.8, 48.4),
        (358.2, 34.4),
        (57.7, 86.8),
    ),
    "TWIST/WalkerWalk-Distracting-v0": (
        (800.4, 53.7),
        (665.8, 80.3),
        (182.7, 3.4),
        (394.6, 25.1),
        (491.0, 145.6),
        (439.4, 57.0),
    ),
    "TWIST/FingerTurnEasy-Distracting-v0": (
        (904.4, 32.8),
        (798.0, 50.3),
        (182.5, 26.0),
        (440.7, 35.7),
        (553.4, 42.2),
        (304.4, 22.5),
    ),
}
PAPER_TABLE_I: dict[str, dict[str, tuple[float, float]]] = {
    env: dict(zip(PAPER_AGENTS, row, strict=True)) for env, row in _PAPER_ROWS.items()
}
"""``PAPER_TABLE_I[env_id][agent] = (mean, std)`` as printed in Table I of the paper."""

EPISODE_COLUMNS = ("agent", "env_id", "seed", "split", "episode", "return", "length", "success")
"""Columns of the pooled per-episode table (``episodes.csv``)."""


@dataclass(frozen=True)
class IQMResult:
    """Aggregate IQM of Oracle-normalised returns for one agent."""

    agent: str
    """Agent name."""
    iqm: float
    """Point estimate (25 % trimmed mean of the normalised score matrix)."""
    ci_low: float
    """Lower end of the 95 % stratified-bootstrap CI."""
    ci_high: float
    """Upper end of the 95 % stratified-bootstrap CI."""
    num_tasks: int
    """Tasks in the score matrix."""
    runs_per_task: int
    """Episodes per task used (the smallest count over tasks)."""


def collect_episodes(runs_root: str | Path, split: str = "test") -> pd.DataFrame:
    """Pool ``<runs_root>/**/eval/<split>/returns.csv`` of every finished run into one table.

    Each ``returns.csv`` carries ``agent``, ``env_id`` and ``seed`` columns (written by the evaluator).
    """
    frames = [pd.read_csv(p) for p in sorted(Path(runs_root).glob(f"**/eval/{split}/returns.csv"))]
    if not frames:
        return pd.DataFrame(columns=list(EPISODE_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def summary_table(episodes: pd.DataFrame) -> pd.DataFrame:
    """Mean +- std of the episodic return per (agent, env_id), Table-I style (see module docstring).

    Returns:
        One row per (agent, env_id) with ``mean``, ``std`` (across per-seed means), ``n_seeds``,
        ``n_episodes`` and ``success_rate`` (NaN for tasks without a success signal).
    """
    rows = []
    for (agent, env_id), g in episodes.groupby(["agent", "env_id"], sort=False):
        per_seed = g.groupby("seed")["return"].mean()
        success = pd.to_numeric(g.get("success"), errors="coerce") if "success" in g else pd.Series([])
        rows.append(
            {
                "agent": agent,
                "env_id": env_id,
                "mean": float(g["return"].mean()),
                "std": float(per_seed.std(ddof=0)) if len(per_seed) > 1 else 0.0,
                "n_seeds": int(per_seed.size),
                "n_episodes": int(len(g)),
                "success_rate": float(success.mean()) if success.notna().any() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def normalized_score_matrices(episodes: pd.DataFrame, reference_agent: str = "oracle") -> dict[str, np.ndarray]:
    """Per agent, a ``(runs, tasks)`` matrix of returns divided by the reference agent's task mean.

    Tasks without reference runs are left out (nothing to normalise by). Every task column is cut to
    the smallest episode count of that agent so the matrix is rectangular.
    """
    ref = episodes[episodes["agent"] == reference_agent].groupby("env_id")["return"].mean()
    envs = [e for e in ref.index if abs(ref[e]) > 1e-12]
    out: dict[str, np.ndarray] = {}
    for agent, g in episodes.groupby("agent", sort=False):
        columns = []
        for env in envs:
            r = g.loc[g["env_id"] == env].sort_values(["seed", "episode"])["return"].to_numpy(float)
            if r.size:
                columns.append(r / ref[env])
        if columns:
            n = min(c.size for c in columns)
            out[str(agent)] = np.stack([c[:n] for c in columns], axis=1)  # (runs, tasks)
    return out


def iqm_with_ci(score_dict: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, IQMResult]:
    """Aggregate IQM and its 95 % stratified-bootstrap CI per agent (rliable).

    Args:
        score_dict: ``agent -> (num_runs, num_tasks)`` normalised scores.
        reps: Bootstrap replications (rliable's default is 50,000; 2,000 keeps ``compare`` quick).
        seed: Seed of the bootstrap.

    Returns:
        ``agent -> IQMResult``.

    Example:
        >>> r = iqm_with_ci({"a": np.arange(1.0, 9.0).reshape(8, 1)}, reps=200)
        >>> float(r["a"].iqm)  # the middle half of 1..8 is 3, 4, 5, 6
        4.5
    """
    from rliable import library as rly
    from rliable import metrics

    if not score_dict:
        return {}
    with warnings.catch_warnings():
        # arch (rliable's bootstrap) deprecates the random_state keyword that rliable 1.2 still passes.
        warnings.simplefilter("ignore", FutureWarning)
        point, interval = rly.get_interval_estimates(
            dict(score_dict),
            lambda x: np.array([metrics.aggregate_iqm(x)]),
            reps=reps,
            random_state=np.random.RandomState(seed),
        )
    return {
        agent: IQMResult(
            agent=agent,
            iqm=float(point[agent][0]),
            ci_low=float(interval[agent][0, 0]),
            ci_high=float(interval[agent][1, 0]),
            num_tasks=int(score_dict[agent].shape[1]),
            runs_per_task=int(score_dict[agent].shape[0]),
        )
        for agent in score_dict
    }


def _order(agents: Sequence[str]) -> list[str]:
    known = [a for a in PAPER_AGENTS if a in agents]
    return known + sorted(a for a in agents if a not in PAPER_AGENTS)


def _task_title(env_id: str) -> str:
    return env_id.split("/", 1)[-1]


def markdown_table(summary: pd.DataFrame, paper: bool = False) -> str:
    """Render the summary as a Markdown table: rows = tasks, columns = agents (paper's layout).

    Args:
        summary: Output of :func:`summary_table`.
        paper: Put the paper's Table I number beside ours in each cell (``ours / paper``).
    """
    if summary.empty:
        return "_no finished runs_\n"
    agents = _order(list(summary["agent"].unique()))
    envs = list(dict.fromkeys(summary["env_id"]))
    has_success = summary["success_rate"].notna().any()
    header = ["Task"] + [AGENT_TITLES.get(a, a) + (" (ours / paper)" if paper else "") for a in agents]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for env in envs:
        cells = [_task_title(env)]
        for agent in agents:
            row = summary[(summary["agent"] == agent) & (summary["env_id"] == env)]
            if row.empty:
                cell = "-"
            else:
                r = row.iloc[0]
                cell = f"{r['mean']:.1f} ± {r['std']:.1f}"
                if has_success and not np.isnan(r["success_rate"]):
                    cell += f" ({100 * r['success_rate']:.0f}% success)"
            if paper:
                ref = PAPER_TABLE_I.get(env, {}).get(agent)
                cell += f" / {ref[0]:.1f} ± {ref[1]:.1f}" if ref else " / n/a"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    seeds = sorted(set(summary["n_seeds"]))
    episodes = sorted(set(summary["n_episodes"]))
    lines.append("")
    lines.append(
        f"Mean ± std (std across seeds) of the episodic return on held-out scenes; seeds per cell: "
        f"{seeds}, episodes per cell: {episodes}."
    )
    return "\n".join(lines) + "\n"


def paper_table_markdown() -> str:
    """The paper's Table I as Markdown (for ``--paper-table`` without any runs)."""
    rows = [
        {
            "agent": a,
            "env_id": env,
            "mean": m,
            "std": s,
            "n_seeds": 3,
            "n_episodes": 100,
            "success_rate": float("nan"),
        }
        for env, cols in PAPER_TABLE_I.items()
        for a, (m, s) in cols.items()
    ]
    return markdown_table(pd.DataFrame(rows)).replace(
        "seeds per cell: [3], episodes per cell: [100]",
        "TWIST paper, Table I (500K steps, 3 seeds x 100 episodes)",
    )


def learning_curves(runs_root: str | Path) -> pd.DataFrame:
    """Training-episode returns of every run: ``agent, env_id, seed, step, return``.

    Reads ``<run>/metrics.csv`` (column ``step`` and the training episode return ``train/return``)
    beside each run's ``run.json`` (for TWIST: its teacher's, ``<run>/teacher/metrics.csv``).

    When the budget ended a run (``run.json``: ``budget_exhausted``), its last episode is left out if it is
    shorter than the run's longest (``train/length``): the budget cut it (stored as a truncation), and its partial
    return would draw as a collapse at the end of every budgeted curve.
    """
    import json

    frames = []
    for cfg_path in sorted(Path(runs_root).glob("**/run.json")):
        # TWIST keeps its teacher's training curve in teacher/metrics.csv (the student never acts).
        metrics = next(
            (p for p in (cfg_path.parent / "metrics.csv", cfg_path.parent / "teacher" / "metrics.csv") if p.exists()),
            None,
        )
        if metrics is None:
            continue
        cfg = json.loads(cfg_path.read_text())
        try:
            m = pd.read_csv(metrics)
        except pd.errors.EmptyDataError:
            continue
        col = next((c for c in ("train/return", "episode/return", "train_return", "return") if c in m), None)
        if col is None or "step" not in m:
            continue
        if cfg.get("budget_exhausted") and "train/length" in m and len(m) > 1:
            lengths = m["train/length"]
            last = lengths.last_valid_index()
            if last is not None and lengths[last] < lengths.max():
                m = m.drop(index=last)  # cut by the budget: a partial episode, not a return
        m = m[["step", col]].dropna().rename(columns={col: "return"})
        m["agent"], m["env_id"], m["seed"] = cfg.get("agent"), cfg.get("env_id"), cfg.get("seed")
        frames.append(m)
    if not frames:
        return pd.DataFrame(columns=["agent", "env_id", "seed", "step", "return"])
    return pd.concat(frames, ignore_index=True)


def plot_iqm(results: Mapping[str, IQMResult], path: str | Path) -> Path:
    """Bar chart of the aggregate IQM with 95 % CIs (the paper's Fig. 2) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = _order(list(results))
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * max(1, len(agents))))
    y = np.arange(len(agents))
    iqm = np.array([results[a].iqm for a in agents])
    err = np.array(
        [
            [results[a].iqm - results[a].ci_low for a in agents],
            [results[a].ci_high - results[a].iqm for a in agents],
        ]
    )
    ax.barh(y, iqm, xerr=err, color="tab:blue", alpha=0.7, capsize=4)
    ax.set_yticks(y, [AGENT_TITLES.get(a, a) for a in agents])
    ax.invert_yaxis()
    ax.set_xlabel("IQM of Oracle-normalised return (95% bootstrap CI)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_learning_curves(curves: pd.DataFrame, path: str | Path) -> Path:
    """One panel per task: mean training-episode return over seeds vs. env steps, per agent (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(dict.fromkeys(curves["env_id"])) or ["(no runs)"]
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 3.5), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        sub = curves[curves["env_id"] == env]
        for agent in _order(list(sub["agent"].unique())):
            g = sub[sub["agent"] == agent].groupby("step")["return"].mean().sort_index()
            ax.plot(g.index, g.to_numpy(), label=AGENT_TITLES.get(agent, agent))
        ax.set_title(_task_title(env))
        ax.set_xlabel("environment steps")
        ax.set_ylabel("training episode return")
        if len(sub):
            ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_results(
    runs_root: str | Path,
    out_dir: str | Path,
    split: str = "test",
    paper: bool = False,
    reps: int = 2000,
    seed: int = 0,
) -> dict[str, Path]:
    """Compute and write every result file of a grid into ``out_dir``.

    Files: ``episodes.csv`` (pooled per-episode returns), ``table.md`` / ``table.csv`` (Table I
    style), ``iqm.csv`` and ``iqm.png`` (aggregate IQM with 95 % CIs; only when Oracle runs exist),
    ``learning_curves.png``.

    Returns:
        Name -> path of every file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    episodes = collect_episodes(runs_root, split)
    files: dict[str, Path] = {}
    files["episodes"] = out / "episodes.csv"
    episodes.to_csv(files["episodes"], index=False)
    summary = summary_table(episodes)
    if paper:
        summary["paper_mean"] = [
            PAPER_TABLE_I.get(e, {}).get(a, (np.nan, np.nan))[0]
            for a, e in zip(summary["agent"], summary["env_id"], strict=True)
        ]
        summary["paper_std"] = [
            PAPER_TABLE_I.get(e, {}).get(a, (np.nan, np.nan))[1]
            for a, e in zip(summary["agent"], summary["env_id"], strict=True)
        ]
    files["table_csv"] = out / "table.csv"
    summary.to_csv(files["table_csv"], index=False)
    files["table_md"] = out / "table.md"
    files["table_md"].write_text(markdown_table(summary, paper=paper))
    scores = normalized_score_matrices(episodes)
    if scores:
        iqm = iqm_with_ci(scores, reps=reps, seed=seed)
        files["iqm_csv"] = out / "iqm.csv"
        pd.DataFrame([vars(r) for r in iqm.values()]).to_csv(files["iqm_csv"], index=False)
        files["iqm_png"] = plot_iqm(iqm, out / "iqm.png")
    files["learning_curves_png"] = plot_learning_curves(learning_curves(runs_root), out / "learning_curves.png")
    return files
