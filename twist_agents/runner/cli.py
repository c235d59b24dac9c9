"""The ``twist`` command line: ``train``, ``eval``, ``compare`` and ``demo``.

Examples::

    twist train --agent asym-sac --env TWIST/CartpoleBalance-Distracting-v0 --preset cpu --steps 100000
    twist eval runs/asym-sac --split test --episodes 10 --video-format gif
    twist eval runs/twist --env TWIST/BlockPush-Real-v0 --env-kwargs robot=sim,camera=sim --episodes 1
    twist compare --agents twist,oracle --envs TWIST/CupCatch-Distracting-v0 --seeds 3 --preset cpu
    twist compare ... --budget-minutes 15       # every run: 15 min of training wall clock, steps unlimited
    twist compare ... --backend ray --address 10.0.0.1:6379
    twist demo

A mistake on the command line (an unknown id, a bad path or number, an empty list, a missing run, an
unreachable cluster) ends with one line on stderr, ``twist: error: <what is wrong>; <what to do>``, and exit
code 2 (1 for a run directory that cannot be used); ``--debug`` or ``TWIST_DEBUG=1`` shows the traceback.
Warnings (e.g. a damaged run file set aside on resume) are printed as ``twist: WARNING: ...`` lines.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import textwrap
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from twist_agents.errors import UserError
from twist_agents.presets import PRESETS
from twist_agents.runner.agents import AGENTS, PRESET_DEFAULTS, TrainRequest
from twist_agents.runner.validate import DEFAULT_CONNECT_TIMEOUT

_AGENT_HELP = "\n".join(f"  {s.name:<13} {s.description}" for s in AGENTS.values())
_PRESET_HELP = ", ".join(
    f"{p} (steps={d['steps']}, max_episode_steps={d['max_episode_steps']}, eval_episodes={d['eval_episodes']})"
    for p, d in PRESET_DEFAULTS.items()
)


DEBUG_ENV = "TWIST_DEBUG"
"""Environment variable: ``1`` shows tracebacks of user errors (as ``--debug``)."""
RUN_OPTIONS = ("preset", "steps", "budget_minutes", "max_episode_steps")
"""The :class:`TrainRequest` fields that ``twist compare`` takes too (same names, defaults and help)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (argparse prints the whole usage first)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print ``prog: error: message`` and a pointer to ``--help``; exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
    return value


def _positive_int(text: str) -> int:
    """Argparse type: an integer >= 1 (budgets and counts)."""
    return _int(text, 1)


def _non_negative_int(text: str) -> int:
    """Argparse type: an integer >= 0 (seeds, optional counts where 0 means none)."""
    return _int(text, 0)


def _positive_float(text: str) -> float:
    """Argparse type: a finite number > 0 (timeouts, wall-clock budgets)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _add_debug(p: argparse.ArgumentParser, default: object) -> None:
    p.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help=f"show the Python traceback of an error (also: {DEBUG_ENV}=1)",
    )


_INT_TYPES: dict[int, Callable[[str], int]] = {0: _non_negative_int, 1: _positive_int}
"""Argparse type of an int field by its metadata's ``min``."""


def _request_choices() -> dict[str, tuple[list[str], str]]:
    """Fields whose values come from a registry above ``request.py``: (choices, how the help lists them)."""
    return {"agent": (list(AGENTS), ", ".join(AGENTS)), "preset": (sorted(PRESETS), _PRESET_HELP)}


def request_option(f: dataclasses.Field[Any], hint: Any, owner: str = "TrainRequest") -> tuple[str, dict[str, Any]]:
    """The option (flag, ``add_argument`` keyword arguments) of one :class:`TrainRequest` field.

    The name is ``--field-name`` (or the metadata's ``flag``; a bool defaulting to True is ``--no-field-name``),
    ``dest`` is the field's name, the default is the field's, the type follows the annotation (an ``int`` is
    checked against the metadata's ``min``, a ``float`` must be a finite number > 0). See
    :data:`~twist_agents.runner.request.CLI_KEYS` for the metadata.

    Raises:
        TypeError: the field has no ``help`` in its metadata, or a type the CLI cannot parse.
    """
    meta = f.metadata
    if "help" not in meta:
        raise TypeError(f"{owner}.{f.name} has no command-line option: give it metadata={{'help': ...}}")
    kinds = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
    if len(kinds) != 1:
        raise TypeError(f"{owner}.{f.name}: the CLI cannot parse {hint}")
    kind, dashed, text = kinds[0], f.name.replace("_", "-"), str(meta["help"])
    has_default = f.default is not dataclasses.MISSING
    kwargs: dict[str, Any] = {"dest": f.name}
    if kind is bool:
        on = bool(f.default) if has_default else False
        # The option turns the field's default around: --no-resume sets resume=False.
        flag = meta.get("flag", f"--no-{dashed}" if on else f"--{dashed}")
        kwargs.update(action="store_false" if on else "store_true", default=on)
        return flag, {**kwargs, "help": text}
    if f.name in (choices := _request_choices()):
        kwargs["choices"], listing = choices[f.name]
        text = f"{text}: {listing}"
    if kind is int:
        kwargs["type"] = _INT_TYPES[int(meta.get("min", 0))]
    elif kind is float:
        kwargs["type"] = _positive_float
    elif kind is Path:
        kwargs["type"] = Path
    elif kind is not str:
        raise TypeError(f"{owner}.{f.name}: the CLI cannot parse {hint}")
    if has_default:
        kwargs["default"] = f.default
        if f.default is not None:
            text = f"{text} (default: {f.default})"
    elif "cli_default" in meta:
        kwargs["default"] = meta["cli_default"]
    else:
        kwargs["required"] = True
    if "metavar" in meta:
        kwargs["metavar"] = meta["metavar"]
    return meta.get("flag", f"--{dashed}"), {**kwargs, "help": text}


def add_request_options(
    p: argparse.ArgumentParser, names: Sequence[str] | None = None, request: type = TrainRequest
) -> None:
    """Add one option per field of ``request`` (or per field in ``names``), in field order.

    This loop is the only place the CLI learns about :class:`TrainRequest`: a new field gets its option here
    (or the parser refuses to build), and defaults and types are read from the field.
    """
    hints = typing.get_type_hints(request)
    fields = dataclasses.fields(request)
    unknown = set(names or ()) - {f.name for f in fields}
    if unknown:
        raise TypeError(f"{request.__name__} has no field(s) {sorted(unknown)}")
    for f in fields:
        if names is None or f.name in names:
            flag, kwargs = request_option(f, hints[f.name], request.__name__)
            p.add_argument(flag, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``twist`` (subcommands train / eval / compare / demo)."""
    parser = _Parser(
        prog="twist",
        description="TWIST (teacher-student world model distillation), its baselines, the comparison runner.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="agents:\n" + _AGENT_HELP,
    )
    _add_debug(parser, False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,eval,compare,demo}")

    # ---------------------------------------------------------------- train
    p = sub.add_parser(
        "train",
        help="train one agent on one env into a run directory",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train one agent (resuming from the run directory's checkpoint when present).",
        epilog="agents (--agent):\n"
        + _AGENT_HELP
        + textwrap.dedent("""

            The run directory receives run.json (the config), metrics.csv, TensorBoard events (tb/) and
            checkpoints/. dreamer-nodr trains with randomization=none, the others with randomization=train;
            evaluate with `twist eval RUN_DIR` (held-out split "test")."""),
    )
    add_request_options(p)
    p.add_argument(
        "--eval-episodes",
        type=_non_negative_int,
        default=0,
        help="evaluate this many episodes on the test split after training (default: 0 = skip)",
    )
    p.set_defaults(func=cmd_train)

    # ---------------------------------------------------------------- eval
    p = sub.add_parser(
        "eval",
        help="evaluate a trained run on a randomisation split, or deploy it in another env (the real robot)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Evaluate a saved run: per-episode returns CSV, success rate (block tasks), "
        "and a video of the first episodes, in RUN_DIR/eval/<split>/.",
        epilog=textwrap.dedent("""\
            deployment (--env, docs/hardware.md "From a trained run to the first real episode"):
              twist eval RUN --env TWIST/BlockPush-Real-v0 --env-kwargs robot=sim,camera=sim
              twist eval RUN --env TWIST/BlockPush-Real-v0 --env-kwargs robot=franky,camera=realsense
            runs the agent through the real env (safety layer, operator resets, success by the operator or
            success_from=detector, view_randomization of the sim camera) into RUN/eval/<env>/<session>/,
            with the env's episode log (episodes.jsonl) and deployment.json beside returns.csv."""),
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory written by `twist train`")
    p.add_argument(
        "--split",
        choices=("test", "train", "none"),
        default=None,
        help="env randomization during evaluation: test = held-out appearances (default), "
        "train = training distribution, none = canonical scene (sim envs only)",
    )
    p.add_argument(
        "--env",
        dest="env_id",
        default=None,
        metavar="ENV_ID",
        help="evaluate in this env instead of the run's, e.g. TWIST/BlockPush-Real-v0 (checked against the "
        "agent: observation keys, actions, image size)",
    )
    p.add_argument(
        "--env-kwargs",
        action="append",
        default=None,
        metavar="KEY=VALUE,...",
        help="keywords of the env, e.g. robot=sim,camera=sim; values are int, float, true/false, none, JSON "
        "([...], {...}) or text (quote digits meant as text: camera_serial='0123'); may be repeated",
    )
    p.add_argument("--episodes", type=_positive_int, default=None, help="episodes (default: the run's preset's)")
    p.add_argument(
        "--seed", type=_non_negative_int, default=None, help="seed of the first episode (default: derived from the run)"
    )
    p.add_argument(
        "--video-episodes", type=_non_negative_int, default=1, help="episodes to film (default: 1; 0 = none)"
    )
    p.add_argument("--video-format", choices=("mp4", "gif"), default="mp4", help="video format (default: mp4)")
    p.add_argument(
        "--max-episode-steps",
        type=_positive_int,
        default=None,
        help="episode cap (default: the cap the run trained with)",
    )
    p.set_defaults(func=cmd_eval)

    # ---------------------------------------------------------------- compare
    p = sub.add_parser(
        "compare",
        help="run a grid of agents x envs x seeds and write Table I, IQM CIs and plots",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.dedent("""\
            Train and evaluate every (agent, env, seed) on the held-out split, then write
            OUT/results/: table.md + table.csv (mean +- std per agent x task, Table I style),
            iqm.csv + iqm.png (IQM of Oracle-normalised returns, 95% stratified-bootstrap CIs via
            rliable), learning_curves.png, episodes.csv. Finished runs (OUT/runs/.../DONE) are not
            redone, so an interrupted grid resumes when the same command is run again.

            Backends: local (default) runs at most 2 worker processes on this machine;
            ray submits each run as a Ray task (1 CPU) to the cluster at --address
            (pip install "twist[ray]"); both write the same result files.

            Equal compute: --budget-minutes M gives every run the same training wall clock
            (each run a process with one torch thread; its training time, summed over
            resumes, without evaluation episodes). Without --steps, steps are unlimited and
            the budget ends every run; twist gives 2/3 to its teacher, the rest to
            distillation. Each run.json records budget_minutes, the measured train_s,
            budget_exhausted and the worker count."""),
        epilog="agents:\n" + _AGENT_HELP,
    )
    p.add_argument(
        "--agents",
        type=_csv,
        default=list(AGENTS),
        help="comma-separated agent names (default: all: " + ",".join(AGENTS) + ")",
    )
    p.add_argument("--envs", type=_csv, required=True, help="comma-separated env ids")
    p.add_argument(
        "--seeds", type=_positive_int, default=3, help="number of seeds 0..N-1 per (agent, env) (default: 3)"
    )
    add_request_options(p, RUN_OPTIONS)
    p.add_argument(
        "--eval-episodes", type=_positive_int, default=None, help="evaluation episodes per run (default: the preset's)"
    )
    p.add_argument("--out", type=Path, default=Path("runs/compare"), help="output directory (default: runs/compare)")
    p.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="where runs execute: local processes (default) or Ray tasks (ray backend)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="Ray cluster address for --backend ray (e.g. 10.0.0.1:6379 or 'auto'; a token-auth cluster "
        "needs its token in ~/.ray/auth_token or RAY_AUTH_TOKEN); default: start a local Ray instance",
    )
    p.add_argument(
        "--connect-timeout",
        type=_positive_float,
        default=DEFAULT_CONNECT_TIMEOUT,
        help="seconds to wait for the Ray head at --address to accept a connection before giving up "
        f"(default: {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=2,
        help="local worker processes, at most 2 (default: 2); CPUs of a locally started Ray",
    )
    p.add_argument(
        "--paper-table",
        action="store_true",
        help="print the paper's Table I numbers beside ours (also added to table.md / table.csv)",
    )
    p.add_argument(
        "--bootstrap-reps",
        type=_positive_int,
        default=2000,
        help="bootstrap replications for the CIs (default: 2000)",
    )
    p.set_defaults(func=cmd_compare)

    # ---------------------------------------------------------------- demo
    p = sub.add_parser(
        "demo",
        help="short end-to-end TWIST demo (teacher, distillation, held-out evaluation)",
        description="A CPU-sized TWIST run (twist_agents.runner.demo.demo): start from the state teacher the "
        "project trained and ships (or train it: --from-scratch), record its paired state + randomised-image "
        "dataset, distil the pixel student, evaluate on held-out appearances, print a table. Resumable: run it "
        "again after an interruption. Options left out use the demo's defaults.",
    )
    p.add_argument("--run-dir", type=Path, default=None, help="run directory (default: runs/demo)")
    p.add_argument(
        "--env",
        dest="env_id",
        default=None,
        metavar="ENV_ID",
        help="env id (default: TWIST/CartpoleBalance-Distracting-v0)",
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default=None, help="size preset (default: cpu)")
    p.add_argument(
        "--from-scratch",
        action="store_true",
        default=None,
        help="train the teacher here instead of starting from the teacher checkpoint the project ships "
        "(cartpole balance at preset cpu; other envs/presets always train it)",
    )
    p.add_argument(
        "--dataset-steps",
        type=_positive_int,
        default=None,
        help="with the shipped teacher: env steps of paired (state + image) data it records (default: 10000)",
    )
    p.add_argument("--teacher-steps", type=_positive_int, default=None, help="env steps of the teacher")
    p.add_argument("--distill-updates", type=_positive_int, default=None, help="student distillation updates")
    p.add_argument("--eval-episodes", type=_positive_int, default=None, help="evaluation episodes")
    p.add_argument("--seed", type=_non_negative_int, default=None, help="seed")
    p.set_defaults(func=cmd_demo)
    for subparser in sub.choices.values():  # also after the subcommand: `twist train ... --debug`
        _add_debug(subparser, argparse.SUPPRESS)
    return parser


def train(request: TrainRequest, eval_episodes: int = 0) -> TrainRequest:
    """What ``twist train`` does: train (or resume) one run; optionally evaluate it on ``test``."""
    from twist_agents.runner.runs import eval_run, train_run

    req = train_run(request)
    if eval_episodes:
        result = eval_run(req.run_dir, split="test", episodes=eval_episodes)
        print(f"eval (test split): mean return {result.mean_return:.1f} over {len(result.returns)} episodes")
    return req


def cmd_train(args: argparse.Namespace) -> int:
    """``twist train``."""
    from twist_agents.runner.compare import env_slug

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainRequest)}
    run_dir = values["run_dir"] or Path("runs") / args.agent / env_slug(args.env_id) / f"seed{args.seed}"
    train(TrainRequest(**{**values, "run_dir": run_dir}), eval_episodes=args.eval_episodes)
    print(f"run directory: {run_dir}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """``twist eval``."""
    from twist_agents.runner.runs import eval_run

    r = eval_run(
        args.run_dir,
        split=args.split,
        episodes=args.episodes,
        seed=args.seed,
        video_episodes=args.video_episodes,
        video_format=args.video_format,
        max_episode_steps=args.max_episode_steps,
        env_id=args.env_id,
        env_kwargs=",".join(args.env_kwargs) if args.env_kwargs else None,
    )
    label = " ".join(x for x in (args.env_id, args.split or ("" if args.env_id else "test")) if x)
    print(
        f"{label}: mean return {r.mean_return:.1f} over {len(r.returns)} episodes"
        + ("" if r.success_rate != r.success_rate else f", success rate {100 * r.success_rate:.0f}%")
    )
    print(f"per-episode returns: {r.csv_path}")
    for v in r.videos:
        print(f"video: {v}")
    for name, what in (("episodes.jsonl", "episode log"), ("deployment.json", "deployment")):
        if r.csv_path is not None and (r.csv_path.parent / name).exists():
            print(f"{what}: {r.csv_path.parent / name}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``twist compare``."""
    from twist_agents.runner.compare import compare

    start = time.perf_counter()
    files, runs = compare(
        args.agents,
        args.envs,
        args.seeds,
        args.out,
        preset=args.preset,
        steps=args.steps,
        budget_minutes=args.budget_minutes,
        max_episode_steps=args.max_episode_steps,
        eval_episodes=args.eval_episodes,
        backend=args.backend,
        address=args.address,
        workers=args.workers,
        paper_table=args.paper_table,
        bootstrap_reps=args.bootstrap_reps,
        connect_timeout=args.connect_timeout,
    )
    print(files["table_md"].read_text())
    if args.paper_table:
        from twist_agents.runner.results import paper_table_markdown

        print("Paper (TWIST, Table I):\n" + paper_table_markdown())
    if "iqm_csv" in files:
        print("IQM of Oracle-normalised returns (95% CI):\n" + files["iqm_csv"].read_text())
    failed = [r for r in runs if r.get("status") == "failed"]
    for r in failed:
        print(f"FAILED {r['run_dir']}: {r['error']}", file=sys.stderr)
    n_done = sum(r["status"] == "done" for r in runs)
    n_skipped = sum(r["status"] == "skipped" for r in runs)
    print(
        f"results in {args.out / 'results'} ({time.perf_counter() - start:.0f} s; "
        f"{n_done} run, {n_skipped} skipped, {len(failed)} failed)"
    )
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``twist demo``: delegates to :func:`twist_agents.runner.demo.demo`."""
    import inspect

    from twist_agents.runner.demo import demo
    from twist_agents.runner.validate import check_env_for_agent, check_run_dir

    if args.run_dir is not None:
        check_run_dir(args.run_dir)
    if args.env_id is not None:
        check_env_for_agent(args.env_id, "twist")
    given = {k: v for k, v in vars(args).items() if k not in ("command", "func", "debug") and v is not None}
    accepted = inspect.signature(demo).parameters
    demo(**{k: v for k, v in given.items() if k in accepted})
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``twist`` console script.

    Returns the exit code: 0, 1 (a failed compare cell, an unusable run directory), 2 (a usage error),
    130 (interrupted). A :class:`~twist_agents.errors.UserError` is printed as one line without a
    traceback unless ``--debug`` or ``TWIST_DEBUG=1``.
    """
    args = build_parser().parse_args(argv)
    from gymnasium.error import DependencyNotInstalled  # after parsing: `--help` stays fast

    debug = bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    if not logging.getLogger().handlers:  # our warnings (damaged run files set aside) as one line each
        logging.basicConfig(level=logging.WARNING, format="twist: %(levelname)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (UserError, DependencyNotInstalled) as e:
        if debug:
            raise
        print(f"twist: error: {_one_line(str(e))}", file=sys.stderr)
        return e.exit_code if isinstance(e, UserError) else 1
    except KeyboardInterrupt:
        if debug:
            raise
        todo = (
            "the env was closed (a real arm is stopped); a real env's episodes so far are in its episode log"
            if args.command == "eval"
            else "run the same command again to resume from the last checkpoint"
        )
        print(f"twist: interrupted; {todo}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
