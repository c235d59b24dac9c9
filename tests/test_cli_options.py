"""``twist train``'s options are generated from :class:`TrainRequest`'s fields: none missing, none drifted."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from twist_agents.runner.cli import add_request_options, build_parser
from twist_agents.runner.request import CLI_KEYS, TrainRequest

REQUIRED = ["train", "--agent", "oracle", "--env", "TWIST/CartpoleBalance-Distracting-v0"]


def _train_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def test_every_train_request_field_has_a_cli_option():
    dests = {a.dest for a in _train_parser()._actions}
    missing = [f.name for f in dataclasses.fields(TrainRequest) if f.name not in dests]
    assert missing == [], f"TrainRequest field(s) without a `twist train` option: {missing}"


def test_every_field_documents_its_option_with_known_keys():
    for f in dataclasses.fields(TrainRequest):
        assert "help" in f.metadata, f.name
        assert set(f.metadata) <= set(CLI_KEYS), f.name


def test_cli_defaults_are_the_fields_defaults():
    args = build_parser().parse_args(REQUIRED)
    for f in dataclasses.fields(TrainRequest):
        if f.default is not dataclasses.MISSING:
            assert getattr(args, f.name) == f.default, f.name
    assert args.run_dir is None  # derived from agent, env and seed by `twist train`


def test_every_option_reaches_its_field():
    argv = [*REQUIRED, "--run-dir", "r", "--preset", "debug", "--seed", "3", "--steps", "5"]
    argv += ["--distill-updates", "2", "--max-episode-steps", "7", "--no-resume", "--no-progress"]
    argv += ["--budget-minutes", "1.5"]
    args = build_parser().parse_args(argv)
    req = TrainRequest(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainRequest)})
    assert req == TrainRequest(
        agent="oracle",
        env_id="TWIST/CartpoleBalance-Distracting-v0",
        run_dir=Path("r"),
        preset="debug",
        seed=3,
        steps=5,
        budget_minutes=1.5,
        distill_updates=2,
        max_episode_steps=7,
        resume=False,
        progress=False,
    )


def test_a_field_without_an_option_stops_the_parser_from_building():
    @dataclasses.dataclass(frozen=True)
    class Request:
        agent: str = dataclasses.field(metadata={"help": "agent"})
        new_knob: int = 0  # no metadata: no option

    with pytest.raises(TypeError, match="new_knob has no command-line option"):
        add_request_options(argparse.ArgumentParser(), request=Request)


def test_compare_takes_the_shared_fields_with_the_same_defaults():
    args = build_parser().parse_args(["compare", "--envs", "TWIST/CartpoleBalance-Distracting-v0"])
    assert (args.preset, args.steps, args.budget_minutes, args.max_episode_steps) == ("cpu", None, None, None)
