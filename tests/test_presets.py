"""Every component's preset table is keyed by the one list of names in ``twist_agents.presets``."""

import pytest

from twist_agents.dreamer import dreamer_config
from twist_agents.presets import PRESETS, check_preset
from twist_agents.runner.agents import PRESET_DEFAULTS
from twist_agents.sac import SAC_PRESETS, sac_preset
from twist_agents.training.loop import LOOP_PRESETS
from twist_agents.twist import distill_config


def test_every_preset_table_has_exactly_the_preset_names():
    for table in (LOOP_PRESETS, SAC_PRESETS, PRESET_DEFAULTS):
        assert tuple(table) == PRESETS
    for preset in PRESETS:
        assert dreamer_config(preset).preset == preset
        distill_config(preset)
        sac_preset(preset)


@pytest.mark.parametrize(
    ("build", "where"),
    [(dreamer_config, "dreamer_config"), (distill_config, "distill_config"), (sac_preset, "asym-sac")],
)
def test_an_unknown_preset_is_named_with_the_choices(build, where):
    expected = rf"^{where}: unknown preset 'huge'; choose one of \('debug', 'cpu', 'paper'\)$"
    with pytest.raises(ValueError, match=expected):
        build("huge")
    with pytest.raises(ValueError, match="unknown preset"):
        check_preset("huge", where)
