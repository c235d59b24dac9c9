"""The glibc allocator tuning of ``twist_agents.dreamer.allocator``: on by default, opt-out, user's settings win."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
PROBE = "from twist_agents.dreamer.allocator import tune_malloc; print(tune_malloc(), tune_malloc())"


def probe(**env: str) -> str:
    """``tune_malloc()`` twice in a fresh process (the setting is process-wide, so never in this one)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "TWIST_TUNE_MALLOC"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="mallopt tuning applies to glibc Linux only")
def test_tuning_is_on_by_default_and_idempotent():
    assert probe() == "True True"


@pytest.mark.parametrize("env", [{"TWIST_TUNE_MALLOC": "0"}, {"TWIST_TUNE_MALLOC": "off"}, {"MALLOC_TOP_PAD_": "0"}])
def test_opt_out_and_the_users_own_malloc_variables_leave_the_allocator_alone(env):
    assert probe(**env) == "False False"


def test_building_a_world_model_applies_it():
    code = (
        "from twist_agents.dreamer import WorldModel, dreamer_config;"
        "from twist_agents.dreamer.allocator import tune_malloc;"
        "WorldModel(dreamer_config('debug').world_model, {'state': (3,)}, 1);"
        "print(tune_malloc.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
