"""The deployment path: a trained run evaluated in another env than it trained on, e.g. on the real robot.

``twist eval RUN_DIR --env TWIST/BlockPush-Real-v0 --env-kwargs robot=sim,camera=sim`` runs the run's agent
through the real env: its safety layer, its reset procedure (the operator, or the sim twin's), its success
judgement (operator or colour detector) and its episode log, exactly as at the robot, where the same command
takes ``robot=franky,camera=realsense``. With the sim camera the env applies the paper's real-run camera pose
and brightness randomisation (``view_randomization``, on by default). See docs/hardware.md, "From a trained
run to the first real episode".

Before any device is opened, :func:`prepare` checks what can be known from the run and the env's
registration: every ``--env-kwargs`` key is a keyword of the env, and the env provides the observation keys
the agent reads (a real robot has no simulator ``state``, so the Oracle cannot be deployed). After the env is
built, :meth:`Deployment.open` checks the action space and the image size against the env the run trained on.
Each problem is one :class:`~twist_agents.errors.UserError` line.

Outputs, under the run directory::

    eval/<env>/<split>/           a sim env (one that takes obs_mode= and randomization=): returns.csv, videos
    eval/<env>/<YYYYmmdd-HHMMSS>/ any other env (the real robot): one folder per session, never overwritten,
        returns.csv  episode_000.mp4  deployment.json (run, env, kwargs, seeds)
        episodes.jsonl  episode_000.npz   the real env's episode log (its ``log_dir``)

In Python (the snippet of docs/hardware.md; ``agent.act`` gets only the keys the agent reads)::

    import gymnasium as gym
    import twist_envs  # registers the TWIST ids
    from twist_agents.runner.runs import load_run_agent

    agent, input_keys = load_run_agent("runs/twist/TWIST_BlockPush-Sim-v0/seed0")
    env = gym.make("TWIST/BlockPush-Real-v0", robot="sim", camera="sim", log_dir="runs/first-episodes")
    with env:  # close() stops the arm and releases the camera, also on Ctrl-C
        obs, info = env.reset(seed=0)  # homes the arm; the operator places cube and goal
        state, done = None, False
        while not done:
            action, state = agent.act({k: obs[k] for k in input_keys}, state, explore=False)
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        print(info["success"])  # the operator's (or detector's) judgement at the last step
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from twist_agents.data.atomic import atomic_write_text
from twist_agents.errors import UserError, describe
from twist_agents.runner.agents import AgentSpec, get_agent
from twist_agents.runner.validate import check_env_id
from twist_agents.training.envs import make_env
from twist_agents.training.evaluate import make_eval_env
from twist_envs.franka.hardware.errors import HardwareError

logger = logging.getLogger(__name__)

DEPLOYMENT_FILE = "deployment.json"
"""What a deployment evaluation ran (run, env id, env kwargs, seeds), written before its first episode."""
SIM_KEYWORDS = ("obs_mode", "randomization")
"""Keywords that make an env a sim env for the runner: it picks the observation keys and the split."""
RUNNER_KEYWORDS = {"max_episode_steps": "--max-episode-steps"}
"""``gym.make`` keywords the runner sets from its own options."""


# ---------------------------------------------------------------------------------------------- --env-kwargs
def _split_top_level(text: str) -> list[str]:
    """``a=1,b=[1, 2],c={"x": 1}`` -> items split at the commas outside brackets and quotes."""
    items, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [s.strip() for s in items if s.strip()]


def parse_env_kwargs(text: str | Sequence[str] | None) -> dict[str, str]:
    """``--env-kwargs`` text (or several, merged) as ``{key: raw value}``; the values are typed by :func:`typed`.

    Raises:
        UserError: an item without ``=``, a key that is not a Python name, or a key given twice.

    Example:
        >>> parse_env_kwargs('robot=sim, camera=sim,robot_kwargs={"dynamics_factor": 0.05, "realtime": false}')
        {'robot': 'sim', 'camera': 'sim', 'robot_kwargs': '{"dynamics_factor": 0.05, "realtime": false}'}
    """
    texts = [text] if isinstance(text, str) else list(text or ())
    out: dict[str, str] = {}
    for item in (i for t in texts for i in _split_top_level(t)):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UserError(f"--env-kwargs: {item!r} is not KEY=VALUE; write e.g. --env-kwargs robot=sim,camera=sim")
        if key in out:
            raise UserError(f"--env-kwargs: {key} is given twice ({key}={out[key]} and {key}={raw.strip()})")
        out[key] = raw.strip()
    return out


def typed(raw: str, text_only: bool = False) -> Any:
    """One ``--env-kwargs`` value: JSON for ``[...]``/``{...}``, quotes for text, true/false, none, int, float, text.

    ``text_only`` (a keyword the env types as text, e.g. ``camera_serial``) keeps digits as text.

    Raises:
        UserError: a ``[...]``/``{...}`` value that is not JSON.

    Example:
        >>> [typed(v) for v in ("3", "0.05", "true", "None", "sim", "'42'", "[1, 2]")]
        [3, 0.05, True, None, 'sim', '42', [1, 2]]
        >>> typed("012345", text_only=True)
        '012345'
    """
    if raw[:1] in "[{" and raw:
        try:
            return json.loads(raw)
        except ValueError as e:
            raise UserError(f"--env-kwargs: {raw} is not valid JSON ({describe(e)})") from None
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    if text_only:
        return raw
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _text_only(annotation: Any) -> bool:
    """Whether an annotation (a string under ``from __future__ import annotations``) types a value as text."""
    if annotation is str:
        return True
    if not isinstance(annotation, str):
        return False
    members = {m.strip() for m in _split_top_level(annotation.replace("|", ","))}
    return "str" in members and not members & {"int", "float", "bool"}


def _creator(env_id: str) -> Any:
    """The class (or function) registered for ``env_id``; ``None`` if it cannot be imported here."""
    entry = check_env_id(env_id).entry_point
    try:
        return gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
    except (ImportError, AttributeError, ValueError):
        return None


def env_parameters(env_id: str) -> dict[str, inspect.Parameter] | None:
    """The keyword parameters of ``env_id``'s entry point (``None``: it takes ``**kwargs``, anything goes).

    Example:
        >>> import twist_envs
        >>> params = env_parameters("TWIST/BlockPush-Real-v0")
        >>> "robot" in params and "camera" in params and "obs_mode" not in params
        True
    """
    try:
        params = inspect.signature(_creator(env_id)).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return {k: p for k, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL}


def env_kwargs_for(env_id: str, env_kwargs: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """``env_kwargs`` checked against ``env_id``'s keywords; text (``--env-kwargs``) is parsed and typed.

    Raises:
        UserError: malformed text, a keyword the env does not take (with the ones it does), a runner option.
    """
    raw = parse_env_kwargs(env_kwargs) if isinstance(env_kwargs, str) else dict(env_kwargs or {})
    params = env_parameters(env_id)
    for key in raw:
        if key in RUNNER_KEYWORDS:
            raise UserError(f"--env-kwargs: {key} is the runner's option {RUNNER_KEYWORDS[key]}; pass it there")
        if params is not None and key not in params:
            close = difflib.get_close_matches(key, list(params), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UserError(f"--env-kwargs: {env_id} takes no keyword {key!r}; {hint}it takes {', '.join(params)}")
    if not isinstance(env_kwargs, str):
        return raw
    return {k: typed(v, _text_only(params[k].annotation) if params else False) for k, v in raw.items()}


# ---------------------------------------------------------------------------------------------- the deployment
def _observation_keys(space: gym.Space) -> list[str]:
    return sorted(space.spaces) if isinstance(space, gym.spaces.Dict) else []


def _session_dir(root: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = root / stamp, 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{n}"
    return path


@dataclasses.dataclass
class Deployment:
    """A checked plan to evaluate a run in ``env_id`` (see :func:`prepare`); :meth:`open` builds the env."""

    cfg: dict[str, Any]
    spec: AgentSpec
    env_id: str
    env_kwargs: dict[str, Any]
    split: str | None
    cap: int | None
    out_dir: Path
    sim: bool

    @property
    def labels(self) -> dict[str, Any]:
        """Constant columns of ``returns.csv``."""
        return {
            "agent": self.cfg["agent"],
            "env_id": self.env_id,
            "train_env_id": self.cfg["env_id"],
            "seed": self.cfg["seed"],
            "split": self.split or "",
        }

    def open(self) -> gym.Env:
        """Builds the env and checks it against the env the run trained on (action space, image size).

        Raises:
            UserError: the env cannot be built with these keywords (or its device is missing), or it does not
                fit the agent.
        """
        kwargs = dict(self.env_kwargs)
        try:
            if self.sim:
                env = make_eval_env(self.env_id, self.spec.input_keys, self.split or "test", self.cap, **kwargs)
            else:
                if self.cap is not None:
                    kwargs["max_episode_steps"] = self.cap
                env = make_env(self.env_id, **kwargs)
        except (TypeError, ValueError) as e:
            raise UserError(f"{self.env_id} refuses {self._shown(kwargs)}: {describe(e)}") from None
        except HardwareError as e:  # the camera or the robot is missing or failed; the message names it
            raise UserError(f"{self.env_id}: {describe(e)}") from None
        try:
            self._check_fits(env)
        except BaseException:
            env.close()
            raise
        return _DeviceErrorsAsOneLine(env, self.env_id)

    def _shown(self, kwargs: Mapping[str, Any]) -> str:
        return ",".join(f"{k}={v}" for k, v in kwargs.items() if k not in ("log_dir", "max_episode_steps")) or "{}"

    def _check_fits(self, env: gym.Env) -> None:
        train_id = self.cfg["env_id"]
        keys = _observation_keys(env.observation_space)
        missing = [k for k in self.spec.input_keys if k not in keys]
        if missing:
            raise UserError(_missing_keys_message(self.cfg["agent"], self.spec, self.env_id, keys))
        source = make_eval_env(train_id, self.spec.input_keys, "none")
        try:
            src_act, src_obs = source.action_space, source.observation_space
        finally:
            source.close()
        act = env.action_space
        same = type(src_act) is type(act) and getattr(src_act, "shape", None) == getattr(act, "shape", None)
        if same and isinstance(act, gym.spaces.Box):
            same = bool(np.array_equal(src_act.low, act.low) and np.array_equal(src_act.high, act.high))
        if not same:
            raise UserError(
                f"{self.env_id}'s actions {act} do not match {train_id}'s {src_act}, which the agent was trained "
                f"on; evaluate on the env of the same task (e.g. {_twin_of(train_id)})"
            )
        if "pixels" in self.spec.input_keys:
            want, got = src_obs["pixels"].shape, env.observation_space["pixels"].shape
            if want != got:
                takes_size = "image_size" in (env_parameters(self.env_id) or {})
                fix = f"pass --env-kwargs image_size={want[0]}" if takes_size else "make it render the agent's size"
                raise UserError(
                    f"{self.env_id} gives {got} images but the agent was trained on {want} images of {train_id}; {fix}"
                )

    def record(self, env: gym.Env, episodes: int, seed: int) -> Path:
        """Writes ``deployment.json`` (what is about to run) into :attr:`out_dir`; returns its path."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        base = env.unwrapped
        data = {
            "run_dir": str(self.cfg.get("run_dir", "")),
            "agent": self.cfg["agent"],
            "preset": self.cfg.get("preset"),
            "train_env_id": self.cfg["env_id"],
            "train_randomization": self.cfg.get("train_randomization"),
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "split": self.split,
            "max_episode_steps": self.cap,
            "view_randomization": getattr(base, "view_randomization", None),
            "episode_log": str(base.log.path) if getattr(base, "log", None) is not None else None,
            "episodes": episodes,
            "first_seed": seed,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path = self.out_dir / DEPLOYMENT_FILE
        atomic_write_text(path, json.dumps(data, indent=2, default=str))
        return path


class DeviceError(UserError):
    """A device failed during a deployment evaluation (the env stopped the arm); exit code 1, one line."""

    exit_code = 1


class _DeviceErrorsAsOneLine(gym.Wrapper):
    """Re-raises a ``HardwareError`` of ``reset``/``step`` as :class:`DeviceError` (the CLI prints one line)."""

    def __init__(self, env: gym.Env, env_id: str):
        super().__init__(env)
        self._env_id = env_id

    def _fail(self, e: HardwareError) -> DeviceError:
        return DeviceError(
            f"{self._env_id}: {describe(e)}; the arm was stopped, the episodes so far are in the episode log"
        )

    def reset(self, **kwargs: Any) -> Any:
        try:
            return self.env.reset(**kwargs)
        except HardwareError as e:
            raise self._fail(e) from e

    def step(self, action: Any) -> Any:
        try:
            return self.env.step(action)
        except HardwareError as e:
            raise self._fail(e) from e


def _twin_of(env_id: str) -> str:
    for a, b in (("-Sim-", "-Real-"), ("-Real-", "-Sim-")):
        if a in env_id:
            return env_id.replace(a, b)
    return env_id


def _missing_keys_message(agent: str, spec: AgentSpec, env_id: str, keys: Sequence[str]) -> str:
    reads = list(spec.input_keys)
    msg = f"agent {agent!r} reads {reads} but {env_id} observes {list(keys)}"
    if "state" in reads and "state" not in keys:
        msg += (
            f": {env_id} has no simulator state (a real robot only has its camera), so a state agent cannot be "
            "deployed there; deploy a pixel agent (twist, dreamer-dr, ...) trained on the sim env"
        )
    return msg


def prepare(
    cfg: Mapping[str, Any],
    run_dir: Path,
    env_id: str,
    env_kwargs: Mapping[str, Any] | str | None,
    split: str | None,
    max_episode_steps: int | None,
) -> Deployment:
    """Everything that can be checked before an env (or a device) is opened; the plan to evaluate ``cfg``'s run.

    Args:
        cfg: the run's ``run.json``.
        run_dir: the run directory (outputs go to ``run_dir/eval/<env>/...``).
        env_id: the env to evaluate in.
        env_kwargs: its keywords (a mapping, or ``--env-kwargs`` text).
        split: randomisation split for a sim env; ``None`` = ``"test"``. An env without splits refuses one.
        max_episode_steps: episode cap given by the user; ``None`` = the run's. The real env also ends its
            episodes there (``episode_steps``), or caps them at an ``episode_steps`` keyword.

    Raises:
        UserError: an unknown env id, bad keywords, an agent that reads keys the env cannot give, a split for
            an env without splits, or an episode cap that contradicts ``episode_steps``.
    """
    spec = get_agent(cfg["agent"])
    kwargs = env_kwargs_for(env_id, env_kwargs)
    params = env_parameters(env_id)
    sim = params is None or all(k in params for k in SIM_KEYWORDS)
    for key in SIM_KEYWORDS if sim else ():
        if key in kwargs:
            raise UserError(
                f"--env-kwargs: the runner sets {key} (randomization from --split, obs_mode from the keys agent "
                f"{cfg['agent']!r} reads); leave it out"
            )
    creator = _creator(env_id)
    static_keys = getattr(creator, "observation_keys", None)  # known before a device is opened (the real env)
    if static_keys is not None and not set(spec.input_keys) <= set(static_keys):
        raise UserError(_missing_keys_message(cfg["agent"], spec, env_id, static_keys))
    if not sim and split is not None:
        raise UserError(
            f"--split {split}: {env_id} has no randomisation splits (they belong to the sim envs); leave --split out"
            + (
                " (its sim camera applies the real runs' view randomisation; view_randomization=false turns it off)"
                if params and "view_randomization" in params
                else ""
            )
        )
    cap = max_episode_steps if max_episode_steps is not None else cfg.get("max_episode_steps")
    if params and "episode_steps" in params:  # the real env judges success at its own last step: the cap's
        steps = kwargs.get("episode_steps")
        if steps is not None:
            if max_episode_steps is not None and max_episode_steps != steps:
                raise UserError(
                    f"--max-episode-steps {max_episode_steps} contradicts --env-kwargs episode_steps={steps}; give one"
                )
            cap = steps
        elif cap is not None:
            kwargs["episode_steps"] = cap
    root = Path(run_dir) / "eval" / env_id.replace("/", "_")  # compare.env_slug (compare imports runs, runs this)
    out_dir = root / (split or "test") if sim else _session_dir(root)
    if params and "log_dir" in params and "log_dir" not in kwargs:
        kwargs["log_dir"] = out_dir
    if not sim and cfg.get("train_randomization") == "none":
        logger.warning(
            "%s trained without domain randomisation (%s): the paper's camera pose and brightness randomisation "
            "were off in training, so expect the view on %s to differ from what the agent knows",
            run_dir,
            cfg["agent"],
            env_id,
        )
    return Deployment(dict(cfg), spec, env_id, kwargs, split, cap, out_dir, sim)


__all__ = [
    "DEPLOYMENT_FILE",
    "Deployment",
    "DeviceError",
    "env_kwargs_for",
    "env_parameters",
    "parse_env_kwargs",
    "prepare",
    "typed",
]
