"""``twist demo``: the README's end-to-end TWIST run on cartpole balance and its closing table.

Application code over the pipeline (:mod:`twist_agents.twist.pipeline`): pick the shipped teacher or train
one, distil the student, evaluate the three policies, write the diagnostics and print the table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from twist_agents.twist.diagnostics import latent_error_traces, plot_latent_errors
from twist_agents.twist.pipeline import (
    DEMO_ENV,
    evaluate_twist,
    read_summary,
    shipped_teacher,
    train_twist,
    twist_from_teacher,
    write_summary,
)


def demo(
    run_dir: str | Path = "runs/demo",
    env_id: str = DEMO_ENV,
    preset: str = "cpu",
    teacher_steps: int | None = None,
    distill_updates: int | None = None,
    eval_episodes: int = 10,
    seed: int = 0,
    progress: bool = True,
    from_scratch: bool = False,
    dataset_steps: int = 10_000,
    diagnostics: bool = True,
) -> dict[str, Any]:
    """The README's main job: a CPU-sized TWIST run on cartpole balance, ending with a short table.

    By default it starts from the teacher this project trained and ships for the env and preset
    (:func:`shipped_teacher`; training it takes ~16 minutes of one core), rolls it out to record the
    paired dataset, distils the pixel student and evaluates all three policies. ``from_scratch=True``
    (or an env/preset without a shipped teacher) trains the teacher first (:func:`train_twist`).
    Resumable: run it again after an interruption and finished stages are reused. With ``diagnostics``
    it also writes ``latent_errors.png`` / ``.json``: the distillation error per latent along one
    student-driven and one teacher-driven held-out episode (:mod:`twist_agents.twist.diagnostics`).

    Returns:
        The summary (also written to ``run_dir/summary.json``).
    """
    t_all = time.perf_counter()
    teacher_file = None if from_scratch else shipped_teacher(env_id, preset)
    if teacher_file is None:
        agent = train_twist(
            env_id, run_dir, preset, seed, teacher_steps, distill_updates, resume=True, progress=progress
        )
    else:
        agent = twist_from_teacher(
            teacher_file, env_id, run_dir, preset, seed, dataset_steps, distill_updates, progress=progress
        )
    results = evaluate_twist(agent, env_id, eval_episodes, progress=progress)
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    summary.update(
        {
            "teacher_return_state": results["teacher"],
            "student_return_heldout_pixels": results["student"],
            "random_return": results["random"],
            "eval_s": results["eval_s"],
            "total_s": time.perf_counter() - t_all,
        }
    )
    if diagnostics:
        traces = latent_error_traces(agent, env_id, episodes=1)
        (run_dir / "latent_errors.json").write_text(json.dumps(traces))
        plot_latent_errors(traces, run_dir / "latent_errors.png")
        summary["latent_errors"] = {
            d: {k: float(np.mean(traces[d][k])) for k in ("h", "prior", "post")} for d in ("student", "teacher")
        }
    write_summary(run_dir, summary)
    print(format_table(summary))
    return summary


def format_table(summary: Mapping[str, Any]) -> str:
    """The demo's closing table (markdown)."""

    def ms(xs: list[float]) -> str:
        return f"{np.mean(xs):7.1f} +- {np.std(xs):5.1f}"

    teacher, student = np.mean(summary["teacher_return_state"]), np.mean(summary["student_return_heldout_pixels"])
    ratio = student / teacher if teacher else float("nan")
    rows = [
        "| what | return (mean +- std over episodes) |",
        "|---|---|",
        f"| teacher (Oracle Dreamer, reads state) | {ms(summary['teacher_return_state'])} |",
        f"| TWIST student (pixels, held-out test appearances) | {ms(summary['student_return_heldout_pixels'])} |",
        f"| random policy | {ms(summary['random_return'])} |",
        f"| student / teacher | {ratio:.2f} |",
        "",
        "| stage | wall-clock |",
        "|---|---|",
        f"| teacher training | {summary.get('teacher_s', float('nan')):.0f} s"
        + (" (shipped checkpoint)" if summary.get("teacher") else "")
        + " |",
        *(
            [f"| teacher dataset ({summary.get('dataset_steps')} steps) | {summary['dataset_s']:.0f} s |"]
            if "dataset_s" in summary
            else []
        ),
        f"| student distillation | {summary.get('distill_s', float('nan')):.0f} s |",
        f"| evaluation | {summary.get('eval_s', float('nan')):.0f} s |",
        f"| total | {summary.get('total_s', float('nan')):.0f} s |",
    ]
    return f"\nTWIST demo on {summary.get('env_id')} (preset {summary.get('preset')})\n" + "\n".join(rows)
