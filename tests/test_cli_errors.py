"""User errors end in one line (no traceback) with a non-zero exit; damaged run files do not stop a resume.

One test per row of issue 13's table, plus the pieces behind them (``--debug``, the loop's checkpoint
fallback, the sampler setting a damaged episode aside, SAC's previous checkpoint, wrapper term ranges).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from twist_agents.data import EpisodeStore, SequenceSampler
from twist_agents.errors import RunFileError, UserError
from twist_agents.runner.cli import main
from twist_agents.training.checkpoints import latest_checkpoint
from twist_agents.training.loop import LOOP_PRESETS, LoopConfig, train

ENV = "TWIST/CartpoleBalance-Distracting-v0"
DEBUG = ["--preset", "debug"]


def twist(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real ``twist`` entry point in a fresh interpreter (what a user's shell does)."""
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "OMP_NUM_THREADS": "1"}
    env.pop("TWIST_DEBUG", None)
    cmd = [sys.executable, "-m", "twist_agents.runner.cli", *argv]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(done: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """Exit ``code``, no traceback, exactly one non-empty stderr line that contains every word."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(lines) == 1, done.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def free_loopback_port() -> int:
    """A 127.0.0.1 port where nothing listens: bound by us for a moment, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------------ the table
def test_unknown_env_id(tmp_path):
    done = twist("train", "--agent", "oracle", "--env", "TWIST/Nope-v0", *DEBUG, "--run-dir", str(tmp_path / "r"))
    assert_one_line_error(done, 2, "TWIST/Nope-v0", ENV)
    assert not (tmp_path / "r").exists()  # checked before anything is created


def test_run_dir_that_is_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    done = twist("train", "--agent", "oracle", "--env", ENV, *DEBUG, "--run-dir", str(afile))
    assert_one_line_error(done, 2, str(afile), "is a file")
    assert afile.read_text() == "x"


def test_eval_of_a_folder_that_is_not_a_run(tmp_path):
    assert_one_line_error(twist("eval", str(tmp_path)), 2, str(tmp_path), "not a run directory", "twist train")
    assert_one_line_error(twist("eval", str(tmp_path / "missing")), 2, "does not exist")


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--agent", "oracle", "--env", ENV, "--steps", "-5"],
        ["train", "--agent", "oracle", "--env", ENV, "--steps", "0"],
        ["train", "--agent", "oracle", "--env", ENV, "--max-episode-steps", "0"],
        ["eval", "somewhere", "--episodes", "0"],
        ["compare", "--agents", "oracle", "--envs", ENV, "--seeds", "0"],
        ["compare", "--agents", "oracle", "--envs", ENV, "--connect-timeout", "-1"],
    ],
    ids=["steps-negative", "steps-zero", "episode-cap-zero", "eval-episodes-zero", "seeds-zero", "timeout-negative"],
)
def test_budgets_and_counts_must_be_positive(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "must be" in err[0] and "--" in err[0], err


def test_negative_steps_through_the_console_script(tmp_path):
    done = twist("train", "--agent", "oracle", "--env", ENV, *DEBUG, "--steps", "-5", "--run-dir", str(tmp_path / "r"))
    assert_one_line_error(done, 2, "--steps", "-5")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("flag", ["--agents", "--envs"])
def test_empty_agent_or_env_list(flag, tmp_path):
    argv = {"--agents": "oracle", "--envs": ENV, flag: " , "}
    done = twist("compare", *[x for kv in argv.items() for x in kv], *DEBUG, "--seeds", "1", "--out", str(tmp_path))
    assert_one_line_error(done, 2, flag, "empty")


def test_ray_address_where_nothing_listens_fails_fast_and_names_it(tmp_path):
    address = f"127.0.0.1:{free_loopback_port()}"
    start = time.monotonic()
    done = twist(
        "compare",
        *("--agents", "oracle", "--envs", ENV, *DEBUG, "--seeds", "1", "--out", str(tmp_path / "c")),
        *("--backend", "ray", "--address", address, "--connect-timeout", "5"),
    )
    assert time.monotonic() - start < 30
    assert_one_line_error(done, 2, address, "ray start --head")
    assert not (tmp_path / "c").exists()


def test_ray_address_check_is_bounded_and_only_for_addresses():
    from twist_agents.runner.validate import DEFAULT_CONNECT_TIMEOUT, check_ray_address

    assert 0 < DEFAULT_CONNECT_TIMEOUT <= 30
    check_ray_address("auto")  # Ray finds the cluster itself: nothing to pre-check
    with pytest.raises(UserError, match="HOST:PORT"):
        check_ray_address("127.0.0.1")
    with socket.socket() as server:  # something listens: the pre-flight passes
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_ray_address(f"127.0.0.1:{server.getsockname()[1]}", timeout=2)


def test_env_the_agent_cannot_use(tmp_path):
    done = twist("train", "--agent", "oracle", "--env", "HalfCheetah-v5", *DEBUG, "--run-dir", str(tmp_path / "r"))
    assert_one_line_error(done, 2, "HalfCheetah-v5", "oracle", "randomization", ENV)
    done = twist("train", "--agent", "twist", "--env", "TWIST/BlockPush-Real-v0", *DEBUG)
    assert_one_line_error(done, 2, "TWIST/BlockPush-Sim-v0")


def test_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TWIST_DEBUG", raising=False)
    assert main(["eval", str(tmp_path)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    with pytest.raises(UserError, match="not a run directory"):
        main(["eval", str(tmp_path), "--debug"])
    monkeypatch.setenv("TWIST_DEBUG", "1")
    with pytest.raises(UserError):
        main(["eval", str(tmp_path)])


# ------------------------------------------------------------------------------- damaged run files (resume)
def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _tiny_run() -> tuple[gym.Env, object, LoopConfig]:
    import twist_envs  # noqa: F401
    from twist_agents.dreamer import DreamerAgent, dreamer_config

    torch.set_num_threads(1)
    env = gym.make(ENV, obs_mode="state", max_episode_steps=20)
    loop = dataclasses.replace(
        LOOP_PRESETS["debug"],
        steps=60,
        prefill=60,  # random actions only: this test is about files, not learning
        eval_every=0,
        checkpoint_every=20,
        progress=False,
        tensorboard=False,
    )
    agent = DreamerAgent(dreamer_config("debug"), env.observation_space, env.action_space)
    return env, agent, loop


def test_truncated_checkpoint_and_episode_resume_from_what_loads(tmp_path, caplog):
    from twist_agents.dreamer import DreamerAgent, dreamer_config

    env, agent, loop = _tiny_run()
    train(agent, env, tmp_path, loop)
    ckpts = sorted((tmp_path / "checkpoints").glob("ckpt-*"))
    assert [c.name for c in ckpts] == ["ckpt-0000000040", "ckpt-0000000060"]  # the last two are kept
    _truncate(ckpts[-1] / "agent.pt", 1000)
    episode = sorted((tmp_path / "episodes").glob("*.npz"))[1]
    _truncate(episode, 300)

    fresh = DreamerAgent(dreamer_config("debug"), env.observation_space, env.action_space)
    with caplog.at_level(logging.WARNING):
        summary = train(fresh, env, tmp_path, dataclasses.replace(loop, steps=80), resume=True)
    text = caplog.text
    assert "ckpt-0000000060" in text and episode.name in text  # both named
    # Nothing deleted: both damaged files were moved aside, byte for byte.
    assert (tmp_path / "checkpoints" / "corrupt" / "ckpt-0000000060" / "agent.pt").stat().st_size == 1000
    assert (tmp_path / "episodes" / "corrupt" / episode.name).stat().st_size == 300
    # Counters were recomputed from the episodes that load (2 x 20 steps), then training went on to 80.
    store = EpisodeStore(tmp_path / "episodes")
    assert summary["env_steps"] == 80 == store.num_steps and summary["episodes"] == 4 == len(store)
    assert latest_checkpoint(tmp_path).name == "ckpt-0000000080"
    env.close()


def test_no_checkpoint_loads_is_one_clear_error(tmp_path):
    env, agent, loop = _tiny_run()
    train(agent, env, tmp_path, loop)
    for ckpt in (tmp_path / "checkpoints").glob("ckpt-*"):
        _truncate(ckpt / "loop.pt", 10)
    with pytest.raises(RunFileError, match="no checkpoint .* loads") as err:
        train(agent, env, tmp_path, loop, resume=True)
    assert "\n" not in str(err.value) and "ckpt-0000000040" in str(err.value)
    assert len(list((tmp_path / "checkpoints" / "corrupt").iterdir())) == 2
    env.close()


def test_every_loop_preset_keeps_two_checkpoints():
    assert all(cfg.keep_checkpoints >= 2 for cfg in LOOP_PRESETS.values())


def test_sampler_sets_aside_an_episode_damaged_inside(tmp_path, caplog):
    store = EpisodeStore(tmp_path)
    for _ in range(3):
        store.add(
            {
                "state": np.arange(10, dtype=np.float32)[:, None],
                "action": np.zeros((10, 1), np.float32),
                "reward": np.zeros(10, np.float32),
                "is_first": np.arange(10) == 0,
                "is_last": np.arange(10) == 9,
                "is_terminal": np.zeros(10, bool),
            }
        )
    bad = store.paths[1]
    data = bytearray(bad.read_bytes())
    data[60:90] = b"\0" * 30  # inside the first array: the zip directory at the end is still intact
    bad.write_bytes(bytes(data))
    sampler = SequenceSampler(store, seq_len=4, seed=0)
    with caplog.at_level(logging.WARNING):
        for _ in range(10):
            assert sampler.sample(4)["state"].shape == (4, 4, 1)
    assert bad.name in caplog.text and len(store) == 2
    assert (tmp_path / "corrupt" / bad.name).exists()


def test_sac_resumes_from_the_previous_checkpoint(tmp_path, caplog):
    from test_sac import PairedToy  # a fast paired env (pytest puts tests/ on sys.path)

    from twist_agents.sac import AsymmetricSACAgent, sac_preset
    from twist_agents.sac.train import LATEST, PREVIOUS, resume_agent, save_checkpoint

    torch.set_num_threads(1)
    env = PairedToy()
    agent = AsymmetricSACAgent(env, sac_preset("debug"), seed=0)
    save_checkpoint(agent, tmp_path)
    agent.model.num_timesteps = 7
    save_checkpoint(agent, tmp_path)
    assert (tmp_path / PREVIOUS).exists()
    _truncate(tmp_path / LATEST, 500)
    with caplog.at_level(logging.WARNING):
        resumed = resume_agent(tmp_path, sac_preset("debug"), env)
    assert resumed is not None and resumed.model.num_timesteps == 0  # the previous one
    assert "latest.zip" in caplog.text and (tmp_path / "checkpoints" / "corrupt" / "latest.zip").exists()


# ---------------------------------------------------------------------------------------- wrapper arguments
def test_wrapper_terms_check_their_ranges_and_name_the_parameter():
    from wrappers.randomization import body_mass, camera_pose, friction, light_brightness, material_colors

    with pytest.raises(ValueError, match=r"light_brightness: scale must be \(low, high\) with low <= high"):
        light_brightness(scale=(2.0, 0.5))
    with pytest.raises(ValueError, match="friction: scale"):
        friction(["ffoot"], scale=(-1.0, 1.0))
    with pytest.raises(ValueError, match="friction: geoms must be a list"):
        friction("ffoot")
    with pytest.raises(ValueError, match="body_mass: scale must be > 0"):
        body_mass(["torso"], scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="material_colors: low and high"):
        material_colors(low=0.9, high=0.1)
    with pytest.raises(ValueError, match="camera_pose: pos_std"):
        camera_pose(pos_std=-0.1)


def test_domain_randomization_without_terms_uses_the_appearance_terms_that_suit_the_env():
    from wrappers import DomainRandomization, PrivilegedObservation

    env = gym.make("HalfCheetah-v5", render_mode="rgb_array", width=32, height=32)
    dr = DomainRandomization(env)
    names = [t.name for t in dr.randomizer.terms]
    assert "background" in names and "light_brightness" in names
    assert all(t.appearance for t in dr.randomizer.terms)
    paired = PrivilegedObservation(dr)
    obs, _ = paired.reset(seed=0)
    obs2, *_ = paired.step(paired.action_space.sample())
    assert (obs["pixels"] != obs2["pixels"]).any()
    paired.close()

    import twist_envs  # noqa: F401  (ours: the appearance terms of the env's own list)

    ours = DomainRandomization(gym.make("TWIST/BlockPush-Sim-v0", obs_mode="state"))
    assert {t.name for t in ours.randomizer.terms} >= {"background", "material_colors"}
    assert not {"friction", "body_mass"} & {t.name for t in ours.randomizer.terms}
    ours.close()
