"""Speed work must not change what an update computes: loss values of fixed, seeded batches are pinned.

The reference numbers were computed with the code before the update-speed work (commit 9eb6e52) and are
hard-coded, so any change to the losses, the gradients (their norms are pinned) or the optimiser step (the
second update's losses depend on the first update's Adam step) fails here. Regenerate them only for a
deliberate change of the math: ``python tests/test_update_values.py`` prints the current values.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from twist_agents.dreamer import (
    BehaviorConfig,
    DecoderConfig,
    DreamerAgent,
    DreamerConfig,
    EncoderConfig,
    HeadConfig,
    RSSMConfig,
    WorldModelConfig,
    networks,
)
from twist_agents.twist import DistillConfig, TwistAgent

SHAPES = {"state": (5,), "pixels": (64, 64, 3)}
ACTIONS = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
RTOL = 1e-4  # float reordering (other conv algorithms, fused kernels) moves the 5th-6th significant digit
UNPINNED = ("imag/value",)  # the zero-initialised critic's value of ~1e-7: rounding noise, not a result

# Sizes spelled out (not a preset), so that retuning a preset does not move the pinned values.
WORLD_MODEL = WorldModelConfig(
    rssm=RSSMConfig(deter=32, stoch=4, classes=4, hidden=32),
    encoder=EncoderConfig(mlp_layers=1, mlp_units=32, cnn_depth=4),
    decoder=DecoderConfig(mlp_layers=1, mlp_units=32, cnn_depth=4),
    reward_head=HeadConfig(layers=1, units=32, bins=31),
    cont_head=HeadConfig(layers=1, units=32),
    lr=1e-3,
)
BEHAVIOR = BehaviorConfig(
    horizon=5,
    imag_starts=16,
    bins=31,
    actor_layers=2,
    actor_units=32,
    critic_layers=2,
    critic_units=32,
    actor_lr=3e-4,
    critic_lr=1e-3,
    gamma=0.99,
)
DISTILL = DistillConfig(seq_len=8, horizon=4, batch_size=3, lr=1e-3, imag_starts=16, action_noise=0.3, action_match=0.5)


def dreamer(encode: tuple[str, ...], decode: tuple[str, ...], bootstrap: str) -> DreamerAgent:
    wm = dataclasses.replace(WORLD_MODEL, encode=encode, decode=decode)
    cfg = DreamerConfig(world_model=wm, behavior=dataclasses.replace(BEHAVIOR, bootstrap=bootstrap), preset="test")
    agent = DreamerAgent(cfg, SHAPES, ACTIONS, seed=0)
    # The reward head and the critic start at zero (DreamerV3); random output layers instead make imagined
    # rewards, values and returns O(1), so that their pinned values are more than rounding noise.
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mlp in (agent.world_model.heads["reward"], agent.behavior.critic.net):
            mlp.out.weight.copy_(0.3 * torch.randn(mlp.out.weight.shape, generator=gen))
            mlp.out.bias.copy_(0.3 * torch.randn(mlp.out.bias.shape, generator=gen))
    agent.behavior.slow_critic.load_state_dict(agent.behavior.critic.state_dict())
    return agent


def batch(seed: int, b: int = 3, t: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    is_first = np.zeros((b, t), bool)
    is_first[:, 0] = True
    is_first[1, 5] = True  # an episode seam inside a sequence
    is_terminal = np.zeros((b, t), bool)
    is_terminal[1, 4] = True
    action = rng.uniform(-1, 1, (b, t, 2)).astype(np.float32)
    action[is_first] = 0.0
    return {
        "state": rng.normal(size=(b, t, 5)).astype(np.float32),
        "pixels": rng.integers(0, 256, (b, t, 64, 64, 3), dtype=np.uint8),
        "action": action,
        "reward": rng.normal(size=(b, t)).astype(np.float32),
        "is_first": is_first,
        "is_last": is_terminal.copy(),
        "is_terminal": is_terminal,
    }


def dreamer_values(encode: tuple[str, ...], decode: tuple[str, ...], bootstrap: str) -> list[dict[str, float]]:
    """Metrics of two consecutive full updates (world model, actor, critic) from a seeded start."""
    agent = dreamer(encode, decode, bootstrap)
    out = []
    for i in range(2):
        torch.manual_seed(100 + i)
        out.append(agent.update(batch(i)))
    return out


def distill_values() -> list[dict[str, float]]:
    """Metrics of two consecutive distillation updates (Eq. 3 + Eq. 4 + action matching)."""
    teacher = dreamer(("state",), ("state",), "online")
    agent = TwistAgent(teacher, {"pixels": SHAPES["pixels"]}, DISTILL, seed=0)
    out = []
    for i in range(2):
        torch.manual_seed(200 + i)  # the teacher actor's imagined action samples
        out.append(agent.update(batch(10 + i)))
    return out


CASES = {
    "pixel_dreamer": lambda: dreamer_values(("pixels",), ("pixels",), "slow"),
    "state_oracle": lambda: dreamer_values(("state",), ("state",), "online"),
    "state_recon": lambda: dreamer_values(("pixels",), ("state",), "online"),
    "distill": distill_values,
}

# Computed at commit 9eb6e52 (before the update-speed work), torch 2.13.0 CPU, 1 thread.
EXPECTED: dict[str, list[dict[str, float]]] = {
    "pixel_dreamer": [
        {
            "actor/entropy": 2.66617488861084,
            "actor/grad_norm": 91.55171966552734,
            "actor/loss": -20.16786003112793,
            "critic/grad_norm": 3.7399070262908936,
            "critic/loss": 2.931746244430542,
            "imag/return": 185.23265075683594,
            "imag/return_scale": 5.509586811065674,
            "imag/reward": 123.09965515136719,
            "wm/cont": 0.7065792083740234,
            "wm/dyn": 0.5,
            "wm/grad_norm": 2789.40771484375,
            "wm/kl": 0.31276842951774597,
            "wm/loss": 2034.9171142578125,
            "wm/recon_pixels": 2029.404296875,
            "wm/rep": 0.09999999403953552,
            "wm/reward": 4.206275463104248,
        },
        {
            "actor/entropy": 2.6636157035827637,
            "actor/grad_norm": 6.435288429260254,
            "actor/loss": -2.7018470764160156,
            "critic/grad_norm": 2.8899409770965576,
            "critic/loss": 2.6447231769561768,
            "imag/return": 62.548789978027344,
            "imag/return_scale": 8.734838485717773,
            "imag/reward": 34.70458221435547,
            "wm/cont": 0.692319393157959,
            "wm/dyn": 0.5,
            "wm/grad_norm": 2639.6708984375,
            "wm/kl": 0.3372791111469269,
            "wm/loss": 1951.036865234375,
            "wm/recon_pixels": 1945.890625,
            "wm/rep": 0.09999999403953552,
            "wm/reward": 3.8540236949920654,
        },
    ],
    "state_oracle": [
        {
            "actor/entropy": 2.578084707260132,
            "actor/grad_norm": 19.47901725769043,
            "actor/loss": -4.927939414978027,
            "critic/grad_norm": 3.669025421142578,
            "critic/loss": 3.008870840072632,
            "imag/return": 25.078048706054688,
            "imag/return_scale": 1.8678748607635498,
            "imag/reward": 16.050865173339844,
            "wm/cont": 0.6859187483787537,
            "wm/dyn": 0.5,
            "wm/grad_norm": 11.581533432006836,
            "wm/kl": 0.2842459976673126,
            "wm/loss": 8.678007125854492,
            "wm/recon_state": 2.759371519088745,
            "wm/rep": 0.09999999403953552,
            "wm/reward": 4.632716655731201,
        },
        {
            "actor/entropy": 2.573878288269043,
            "actor/grad_norm": 6.522824764251709,
            "actor/loss": 1.1012637615203857,
            "critic/grad_norm": 3.7469565868377686,
            "critic/loss": 2.6567022800445557,
            "imag/return": -7.721837043762207,
            "imag/return_scale": 2.355083703994751,
            "imag/reward": -3.0446295738220215,
            "wm/cont": 0.6592658162117004,
            "wm/dyn": 0.5,
            "wm/grad_norm": 9.512177467346191,
            "wm/kl": 0.33323344588279724,
            "wm/loss": 7.668375492095947,
            "wm/recon_state": 2.385080337524414,
            "wm/rep": 0.09999999403953552,
            "wm/reward": 4.02402925491333,
        },
    ],
    "state_recon": [
        {
            "actor/entropy": 2.628413200378418,
            "actor/grad_norm": 32.768131256103516,
            "actor/loss": 2.2577977180480957,
            "critic/grad_norm": 3.0358922481536865,
            "critic/loss": 2.7232213020324707,
            "imag/return": -25.955402374267578,
            "imag/return_scale": 1.9766671657562256,
            "imag/reward": 6.992967128753662,
            "wm/cont": 0.9199246764183044,
            "wm/dyn": 0.5,
            "wm/grad_norm": 8.010204315185547,
            "wm/kl": 0.31276842951774597,
            "wm/loss": 8.117119789123535,
            "wm/recon_state": 2.447669744491577,
            "wm/rep": 0.09999999403953552,
            "wm/reward": 4.149524688720703,
        },
        {
            "actor/entropy": 2.6134819984436035,
            "actor/grad_norm": 23.382505416870117,
            "actor/loss": -0.1896028220653534,
            "critic/grad_norm": 3.1057286262512207,
            "critic/loss": 2.548518419265747,
            "imag/return": -32.13121795654297,
            "imag/return_scale": 4.037317752838135,
            "imag/reward": 7.746628761291504,
            "wm/cont": 0.8568241000175476,
            "wm/dyn": 0.5,
            "wm/grad_norm": 9.434953689575195,
            "wm/kl": 0.38806819915771484,
            "wm/loss": 8.160882949829102,
            "wm/recon_state": 2.768589735031128,
            "wm/rep": 0.09999999403953552,
            "wm/reward": 3.9354684352874756,
        },
    ],
    "distill": [
        {
            "distill/action_match": 3.3067092895507812,
            "distill/deter": 21.27300262451172,
            "distill/grad_norm": 84.3047103881836,
            "distill/imag_deter": 15.195804595947266,
            "distill/imag_prior": 1.6653729677200317,
            "distill/loss": 45.49236297607422,
            "distill/post": 2.2237274646759033,
            "distill/prior": 3.48110032081604,
            "distill/state_aux": 0.0,  # off in the cpu preset: pinned to zero
            "distill/latent_aux": 0.0,  # off in the cpu preset: pinned to zero
            "distill/teacher_forced": 0.0,  # off in the cpu preset: pinned to zero
        },
        {
            "distill/action_match": 3.87900710105896,
            "distill/deter": 19.230098724365234,
            "distill/grad_norm": 93.82411193847656,
            "distill/imag_deter": 14.557146072387695,
            "distill/imag_prior": 1.5018256902694702,
            "distill/loss": 42.88020706176758,
            "distill/post": 2.430528402328491,
            "distill/prior": 3.2211053371429443,
            "distill/state_aux": 0.0,  # off in the cpu preset: pinned to zero
            "distill/latent_aux": 0.0,  # off in the cpu preset: pinned to zero
            "distill/teacher_forced": 0.0,  # off in the cpu preset: pinned to zero
        },
    ],
}


@pytest.mark.parametrize("onednn_everywhere", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_update_values_are_unchanged(case, onednn_everywhere, monkeypatch):
    torch.set_num_threads(1)
    if onednn_everywhere:  # these sizes are below the oneDNN threshold: force that path too
        monkeypatch.setattr(networks, "_ONEDNN_MIN_MACS", 0)
    got = CASES[case]()
    want = EXPECTED[case]
    assert len(got) == len(want)
    for step, (g, w) in enumerate(zip(got, want, strict=True)):
        assert sorted(g) == sorted([*w, *(k for k in UNPINNED if k in g)])
        for key, value in w.items():
            assert g[key] == pytest.approx(value, rel=RTOL, abs=1e-9), f"{case} update {step}: {key}"


if __name__ == "__main__":
    torch.set_num_threads(1)
    print("EXPECTED = {")
    for name, fn in CASES.items():
        print(f"    {name!r}: [")
        for m in fn():
            items = [f"{k!r}: {v!r}" for k, v in sorted(m.items()) if k not in UNPINNED]
            print("        {" + ", ".join(items) + "},")
        print("    ],")
    print("}")
