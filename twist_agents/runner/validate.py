"""Checks of what a user asks the runner for, done before any long work starts (and before heavy imports).

Each check raises :class:`~twist_agents.errors.UserError` with one line that says what is wrong and
what to do; the ``twist`` CLI prints it without a traceback. :func:`check_request` is what ``twist train``
and every cell of ``twist compare`` go through.
"""

from __future__ import annotations

import difflib
import importlib
import math
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from twist_agents.errors import UserError, describe
from twist_agents.presets import PRESETS

if TYPE_CHECKING:
    from gymnasium.envs.registration import EnvSpec

    from twist_agents.runner.request import TrainRequest

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds the pre-flight TCP connect to a Ray address may take (``twist compare --connect-timeout``)."""


def _sim_ids() -> tuple[str, ...]:
    import twist_envs  # registers the TWIST ids

    return twist_envs.SIM_IDS


def check_positive(name: str, value: int | float | None, allow_zero: bool = False) -> None:
    """``value`` (``None``: left to a default) must be > 0 (>= 0 with ``allow_zero``); ``name`` is the option."""
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise UserError(f"{name} must be {bound}, got {value}")


def check_budget_minutes(value: float | None, name: str = "budget_minutes") -> None:
    """A wall-clock budget (``None``: none) must be a finite number of minutes > 0; ``name`` is the option."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise UserError(f"{name} must be a finite number of minutes > 0, got {value!r}; e.g. --budget-minutes 15")


def check_env_id(env_id: str) -> EnvSpec:
    """The registered spec of ``env_id`` (``"module:Id"`` imports ``module`` first, as ``gym.make`` does).

    Raises:
        UserError: the id is not registered (lists the TWIST ids).
    """
    import gymnasium as gym  # here, so that the CLI's --help stays fast

    sim_ids = _sim_ids()
    name = env_id
    if ":" in env_id:
        module, name = env_id.split(":", 1)
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise UserError(
                f"env id {env_id!r}: cannot import {module!r} ({describe(e)}); check the module name"
            ) from None
    try:
        return gym.spec(name)
    except gym.error.Error:
        close = difflib.get_close_matches(name, list(gym.registry), n=3, cutoff=0.8)
        hint = f"did you mean {' or '.join(close)}?" if close else f"the TWIST sim ids are {', '.join(sim_ids)}"
        raise UserError(f"unknown env id {env_id!r}: {hint}") from None


def check_env_for_agent(env_id: str, agent: str) -> None:
    """``agent`` can train on ``env_id`` with the runner, and be evaluated on its held-out split.

    The runner builds its envs with ``obs_mode`` (paired ``{"state", "pixels"}`` for training) and
    ``randomization`` (``"train"``/``"none"`` for training, ``"test"`` for evaluation): the TWIST sim ids
    take both. Any other id is built once here with those keywords to find out.

    Raises:
        UserError: unknown id, a real-robot id, or an env without those keywords or observation keys.
    """
    import gymnasium as gym

    spec = check_env_id(env_id)
    sim_ids = _sim_ids()
    if spec.id in sim_ids:
        return
    if spec.id.startswith("TWIST/") and spec.id.endswith("-Real-v0"):
        sim = spec.id.replace("-Real-", "-Sim-")
        raise UserError(f"{env_id} is a real-robot env and agents train in simulation: train on {sim} instead")
    needs = (
        f"agent {agent!r} cannot use {env_id}: the runner builds envs with obs_mode= and randomization= "
        "and trains on paired {'state', 'pixels'} observations"
    )
    todo = f"use a TWIST sim id such as {sim_ids[1]}"
    try:
        env = gym.make(env_id, obs_mode="paired", randomization="none")
    except (TypeError, ValueError):
        raise UserError(f"{needs}, and {env_id} does not take those keywords; {todo}") from None
    try:
        space = env.observation_space
        keys = sorted(space.spaces) if isinstance(space, gym.spaces.Dict) else []
    finally:
        env.close()
    if not {"state", "pixels"} <= set(keys):
        raise UserError(f"{needs}, and {env_id} observes {keys or 'a plain array'}; {todo}")


def check_run_dir(path: str | Path, option: str = "--run-dir") -> None:
    """``path`` can be a run directory: a folder, or a path that can be created as one.

    Raises:
        UserError: ``path`` (or a folder above it) is a file, or the first existing folder is not writable.
    """
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                what = "is a file" if p == path else f"is below the file {p}"
                raise UserError(f"{option} {path} {what}, not a folder: pass a folder path (it is created if missing)")
            if not os.access(p, os.W_OK | os.X_OK):
                raise UserError(f"{option} {path}: cannot write in {p}; pass a folder you can write to")
            return


def check_ray_address(address: str, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
    """Fail fast unless something accepts a TCP connection at a Ray address within ``timeout`` seconds.

    ``ray.init`` retries an unreachable address for minutes; this plain-socket connect decides first.
    ``"auto"`` and ``"local"`` (Ray finds or starts the cluster itself) are not checked.

    Args:
        address: ``HOST:PORT``, ``ray://HOST:PORT`` (Ray Client), ``auto`` or ``local``.
        timeout: seconds to wait for the connection.

    Raises:
        UserError: malformed address, unknown host, refused or unanswered connection (with how to start a head).
    """
    if address in ("auto", "local"):
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # IPv6 literal: [::1]:6379
    if not sep or not host or not port.isdigit():
        raise UserError(f"--address {address!r} must be HOST:PORT (e.g. 10.0.0.1:6379), ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except TimeoutError:
        reason = f"no answer within {timeout:g} s"
    except socket.gaierror:
        reason = f"unknown host {host!r}"
    except OSError as e:
        reason = e.strerror or type(e).__name__
    else:
        return
    raise UserError(
        f"no Ray cluster at {address} ({reason}): start one there with `ray start --head --port={port}` "
        "(or pass the address of a running head), or leave out --address to run Ray on this machine"
    )


def check_request(request: TrainRequest) -> None:
    """Everything about one training run that can be checked before it starts.

    Raises:
        UserError: unknown agent or preset, non-positive step or time budget, negative seed, unusable env or
            run directory.
    """
    from twist_agents.runner.agents import get_agent

    get_agent(request.agent)
    if request.preset not in PRESETS:
        raise UserError(f"unknown preset {request.preset!r}; choose one of {', '.join(PRESETS)}")
    check_positive("steps", request.steps)
    check_budget_minutes(request.budget_minutes)
    check_positive("max_episode_steps", request.max_episode_steps)
    check_positive("distill_updates", request.distill_updates)
    check_positive("seed", request.seed, allow_zero=True)
    check_run_dir(request.run_dir)
    if not request.resume and any(Path(request.run_dir).glob("**/episodes/*.npz")):
        raise UserError(
            f"{request.run_dir} already holds a run's episodes and resuming is off (--no-resume): "
            "leave out --no-resume to continue it, or pass a new --run-dir"
        )
    check_env_for_agent(request.env_id, request.agent)


__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "check_budget_minutes",
    "check_env_for_agent",
    "check_env_id",
    "check_positive",
    "check_ray_address",
    "check_request",
    "check_run_dir",
]
