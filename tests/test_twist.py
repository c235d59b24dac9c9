"""TWIST distillation: Eq. 3 + Eq. 4 semantics, frozen teacher, replayed actions, ablations, the agent."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch

from twist_agents.dreamer import DreamerAgent, dreamer_config
from twist_agents.dreamer.networks import RunningStandardizer
from twist_agents.dreamer.rssm import kl_categorical
from twist_agents.twist import StudentWorldModel, TwistAgent, distill_config, distillation_loss

torch.set_num_threads(1)
SHAPES = {"state": (5,), "pixels": (64, 64, 3)}
ACTIONS = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
CFG = distill_config("debug", seq_len=8, horizon=4, imag_starts=16)
TERMS = ("deter", "prior", "post", "imag_deter", "imag_prior")


def teacher(seed=0):
    return DreamerAgent(dreamer_config("debug", encode=("state",), decode=("state",)), SHAPES, ACTIONS, seed=seed)


def batch(b=3, t=8, seed=0):
    rng = np.random.default_rng(seed)
    state = rng.normal(size=(b, t, 5)).astype(np.float32)
    # Pixels that depend on the state, so a student can in principle read it.
    pixels = np.clip(128 + 40 * state[..., :3, None, None].transpose(0, 1, 3, 4, 2), 0, 255)
    pixels = np.broadcast_to(pixels, (b, t, 64, 64, 3)).astype(np.uint8)
    action = rng.uniform(-1, 1, (b, t, 2)).astype(np.float32)
    is_first = np.zeros((b, t), bool)
    is_first[:, 0] = True
    action[:, 0] = 0.0
    return {"state": state, "pixels": pixels, "action": action, "is_first": is_first}


def torch_batch(agent, b):
    return agent.world_model.to_torch(b)


def copy_student(t):
    """A student that *is* the teacher: same keys (state), same weights."""
    s = StudentWorldModel(SHAPES, ("state",), t.world_model.config.encoder, t.world_model.config.rssm, 2)
    s.encoder.load_state_dict(t.world_model.encoder.state_dict())
    s.rssm.load_state_dict(t.world_model.rssm.state_dict())
    return s


def test_loss_is_zero_for_a_student_that_copies_the_teacher():
    t = teacher()
    terms = distillation_loss(t.world_model, t.actor, copy_student(t), torch_batch(t, batch()), CFG)
    for name in TERMS:
        assert float(getattr(terms, name)) == pytest.approx(0.0, abs=1e-6), name
    assert float(terms.loss) == pytest.approx(0.0, abs=1e-6)


def test_loss_is_positive_for_a_different_student_in_every_term():
    t = teacher()
    student = StudentWorldModel.for_teacher(t.world_model, SHAPES)  # pixels, fresh weights
    terms = distillation_loss(t.world_model, t.actor, student, torch_batch(t, batch()), CFG)
    for name in TERMS:
        assert float(getattr(terms, name)) > 1e-4, name
    # A state student with perturbed weights is also penalised: the zero above is not an accident.
    s = copy_student(t)
    with torch.no_grad():
        for p in s.rssm.parameters():
            p.add_(0.05 * torch.randn_like(p))
    assert float(distillation_loss(t.world_model, t.actor, s, torch_batch(t, batch()), CFG).loss) > 1e-3


def test_gradients_reach_only_the_student():
    t = teacher()
    for p in (*t.world_model.parameters(), *t.behavior.parameters()):
        p.requires_grad_(True)  # even if the teacher were trainable, the loss must not touch it
    student = StudentWorldModel.for_teacher(t.world_model, SHAPES)
    distillation_loss(t.world_model, t.actor, student, torch_batch(t, batch()), CFG).loss.backward()
    assert all(p.grad is None for p in (*t.world_model.parameters(), *t.behavior.parameters()))
    grads = [p.grad for p in student.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0


def test_action_match_term_is_zero_for_a_copy_and_trains_only_the_student():
    """The optional (not in the paper) action-matching term: off by default, exact zero for a copy."""
    t = teacher()
    b = torch_batch(t, batch())
    on = dataclasses.replace(CFG, action_match=2.0)
    assert float(distillation_loss(t.world_model, t.actor, copy_student(t), b, on).action_match) == pytest.approx(0.0)
    student = StudentWorldModel.for_teacher(t.world_model, SHAPES)
    torch.manual_seed(0)  # Eq. 4 draws start states and action noise: the same draws for both calls
    off_terms = distillation_loss(t.world_model, t.actor, student, b, CFG)
    assert float(off_terms.action_match) == 0.0
    for p in (*t.world_model.parameters(), *t.behavior.parameters()):
        p.requires_grad_(True)
    torch.manual_seed(0)
    terms = distillation_loss(t.world_model, t.actor, student, b, on)
    assert float(terms.action_match) > 0
    assert float(terms.loss) == pytest.approx(float(off_terms.loss) + 2.0 * float(terms.action_match), rel=1e-5)
    terms.loss.backward()
    assert all(p.grad is None for p in (*t.world_model.parameters(), *t.behavior.parameters()))
    assert all(p.grad is not None for p in student.encoder.parameters())


def test_twist_agent_freezes_the_teacher_and_updates_only_the_student():
    t = teacher()
    before = {k: v.clone() for k, v in t.world_model.state_dict().items()}
    actor_before = {k: v.clone() for k, v in t.behavior.state_dict().items()}
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, CFG, seed=0)
    s_before = {k: v.clone() for k, v in agent.student.state_dict().items()}
    agent.update(batch())
    assert all(torch.equal(before[k], v) for k, v in t.world_model.state_dict().items())
    assert all(torch.equal(actor_before[k], v) for k, v in t.behavior.state_dict().items())
    assert any(not torch.equal(s_before[k], v) for k, v in agent.student.state_dict().items())


def test_distillation_on_a_fixed_dataset_reduces_every_term():
    torch.manual_seed(0)
    t = teacher()
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(CFG, lr=2e-3), seed=0)
    data = batch(b=4, t=8, seed=1)
    first = agent.update(data)
    for _ in range(60):
        last = agent.update(data)
    for name in TERMS:
        assert last[f"distill/{name}"] < 0.7 * first[f"distill/{name}"], (name, first, last)


def test_imagined_rollouts_replay_the_teachers_actions_in_the_student():
    t = teacher()
    student = StudentWorldModel.for_teacher(t.world_model, SHAPES)
    seen = {"teacher": [], "student": []}
    for who, rssm in (("teacher", t.world_model.rssm), ("student", student.rssm)):
        orig = rssm.img_step

        def spy(state, action, sample=True, _orig=orig, _who=who):
            seen[_who].append(action.detach().clone())
            return _orig(state, action, sample)

        rssm.img_step = spy
    b = torch_batch(t, batch())
    seen["teacher"].clear(), seen["student"].clear()
    terms = distillation_loss(t.world_model, t.actor, student, b, CFG)
    # observe() also calls img_step (8 steps each); the imagined part is the last H calls of each model.
    imag_t, imag_s = seen["teacher"][-CFG.horizon :], seen["student"][-CFG.horizon :]
    assert len(imag_t) == len(imag_s) == CFG.horizon
    for a, b_, i in zip(imag_t, imag_s, range(CFG.horizon), strict=True):
        assert torch.equal(a, b_) and torch.equal(a, terms.actions[:, i])


class _ZeroPolicy(torch.nn.Module):
    """An actor whose samples are exactly zero, to see the noise alone."""

    class _Dist:
        def __init__(self, n):
            self.n = n

        def sample(self):
            return torch.zeros(self.n, 2)

        def mode(self):
            return torch.zeros(self.n, 2)

    def forward(self, feat):
        return self._Dist(feat.shape[0])


def test_ablation_flags_switch_the_right_terms_off():
    t = teacher()
    student = StudentWorldModel.for_teacher(t.world_model, SHAPES)
    b = torch_batch(t, batch())
    no_imag = distillation_loss(t.world_model, t.actor, student, b, dataclasses.replace(CFG, imagined=False))
    assert float(no_imag.imag_deter) == 0.0 and float(no_imag.imag_prior) == 0.0 and no_imag.actions is None
    assert float(no_imag.loss) == pytest.approx(float(no_imag.deter + no_imag.prior + no_imag.post), rel=1e-6)
    assert float(no_imag.post) > 0
    quiet = distillation_loss(t.world_model, _ZeroPolicy(), student, b, dataclasses.replace(CFG, noisy_actions=False))
    noisy = distillation_loss(t.world_model, _ZeroPolicy(), student, b, CFG)
    assert torch.count_nonzero(quiet.actions) == 0
    assert float(noisy.actions.std()) == pytest.approx(CFG.action_noise, rel=0.3)


def test_agent_acts_from_pixels_only_and_round_trips_as_one_artefact(tmp_path):
    t = teacher()
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, CFG, seed=0)
    agent.update(batch())
    obs = {"pixels": batch()["pixels"][0, 0]}  # no "state" key: deployable on a real robot
    a1, s = agent.act(obs, None, explore=False)
    a2, _ = agent.act(obs, s, explore=False)
    assert a1.shape == (2,) and np.all(np.abs(a1) <= 1)
    agent.save(tmp_path / "twist.pt")
    again = TwistAgent.from_checkpoint(tmp_path / "twist.pt")
    b1, s2 = again.act(obs, None, explore=False)
    b2, _ = again.act(obs, s2, explore=False)
    assert np.array_equal(a1, b1) and np.array_equal(a2, b2)
    assert again.updates == 1
    with pytest.raises(ValueError, match="pixels"):
        agent.act({"state": np.zeros(5, np.float32)}, None, explore=False)


def test_shipped_teacher_loads_and_its_dataset_pairs_state_with_images(tmp_path):
    """The demo's default path: the shipped teacher records D (state + randomised pixels), then distils."""
    from twist_agents.data import EpisodeStore
    from twist_agents.twist.pipeline import DEMO_ENV, collect_dataset, shipped_teacher, twist_from_teacher

    path = shipped_teacher(DEMO_ENV, "cpu")
    assert path is not None and path.stat().st_size < 2_000_000  # weights only, small enough to ship
    shipped = DreamerAgent.from_checkpoint(path)
    assert shipped.config.world_model.encode == ("state",) and shipped.updates > 0
    assert shipped_teacher(DEMO_ENV, "paper") is None  # nothing shipped there: the demo trains it

    kwargs = {"max_episode_steps": 20}
    stored = collect_dataset(shipped, DEMO_ENV, tmp_path / "d", 30, seed=0, env_kwargs=kwargs, progress=False)
    store = EpisodeStore(tmp_path / "d")
    assert stored == store.num_steps >= 30 and len(store) == 2
    ep = store.load(store.paths[0])
    assert ep["pixels"].shape == (21, 64, 64, 3) and ep["state"].shape[0] == 21
    assert ep["is_first"][0] and ep["is_last"][-1] and np.abs(ep["action"]).max() <= 1.0
    # Train randomisation changes the appearance every step: consecutive frames differ.
    assert np.abs(ep["pixels"][1].astype(int) - ep["pixels"][2]).mean() > 1.0
    # Resumable: asking for what is already there adds nothing.
    assert collect_dataset(shipped, DEMO_ENV, tmp_path / "d", 30, env_kwargs=kwargs, progress=False) == stored

    teacher_file = tmp_path / "teacher.pt"
    small = DreamerAgent(dreamer_config("debug"), shipped.obs_shapes, shipped.action_space, seed=0)
    small.save_weights(teacher_file)  # a debug-size teacher keeps the distillation quick
    agent = twist_from_teacher(
        teacher_file, DEMO_ENV, tmp_path / "run", "debug", dataset_steps=60, distill_updates=3, progress=False
    )
    assert agent.updates == 3 and (tmp_path / "run" / "twist_agent.pt").exists()


def test_latent_error_traces_are_zero_for_a_student_that_copies_the_teacher(tmp_path):
    """The diagnostic compares the two filters step by step; identical filters give exactly zero error."""
    from twist_agents.training.envs import make_env
    from twist_agents.twist.diagnostics import latent_error_trace, plot_latent_errors
    from twist_agents.twist.pipeline import DEMO_ENV

    env = make_env(DEMO_ENV, 0, obs_mode="paired", randomization="test", max_episode_steps=15)
    t = DreamerAgent(dreamer_config("debug"), {"state": (5,), "pixels": (64, 64, 3)}, env.action_space, seed=0)
    agent = TwistAgent(t, {"pixels": (64, 64, 3)}, CFG, seed=0)
    agent.student = StudentWorldModel(
        {"state": (5,)}, ("state",), t.world_model.config.encoder, t.config.world_model.rssm, 1
    )
    agent.student.load_state_dict(
        {**t.world_model.encoder.state_dict(prefix="encoder."), **t.world_model.rssm.state_dict(prefix="rssm.")}
    )
    traces = {d: latent_error_trace(agent, env, d, seed=3) for d in ("student", "teacher")}
    for d, tr in traces.items():
        assert len(tr["h"]) == 15, d  # one entry per decision: the reset observation and the next 14
        assert max(max(tr[k]) for k in ("h", "prior", "post")) < 1e-8, (d, tr)
    assert traces["student"]["return"] == traces["teacher"]["return"]  # same latents, same actions
    real = TwistAgent(t, {"pixels": (64, 64, 3)}, CFG, seed=0)  # an untrained pixel student differs
    tr = latent_error_trace(real, env, "student", seed=3)
    assert min(tr["h"][1:]) > 0 and min(tr["post"]) > 0
    summary = {d: {**{k: v[k] for k in ("h", "prior", "post")}, "returns": [v["return"]]} for d, v in traces.items()}
    plot_latent_errors({**summary, "randomization": "test"}, tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 1000
    env.close()


def test_latent_error_trace_decodes_both_filters_and_can_follow_the_franka_scripted_controller():
    """``decode=True`` reads the true state and both filters' latents through the teacher's state decoder (equal
    for a student that copies the teacher); ``driver="expert"`` replays the env's scripted controller exactly."""
    from twist_agents.training.envs import make_env
    from twist_agents.twist.diagnostics import latent_error_trace

    env_id, steps = "TWIST/BlockPush-Sim-v0", 12
    env = make_env(env_id, 0, obs_mode="paired", randomization="test", max_episode_steps=steps)
    dim = env.observation_space["state"].shape[0]
    t = DreamerAgent(dreamer_config("debug"), {"state": (dim,), "pixels": (64, 64, 3)}, env.action_space, seed=0)
    agent = TwistAgent(t, {"pixels": (64, 64, 3)}, CFG, seed=0)
    agent.student = StudentWorldModel(
        {"state": (dim,)}, ("state",), t.world_model.config.encoder, t.config.world_model.rssm, t.action_dim, dim
    )
    agent.student.load_state_dict(
        {**t.world_model.encoder.state_dict(prefix="encoder."), **t.world_model.rssm.state_dict(prefix="rssm.")},
        strict=False,  # the state_aux head and its statistics stay new
    )
    tr = latent_error_trace(agent, env, "expert", seed=4, decode=True)
    assert "student_aux" not in tr["decoded"]  # the aux statistics were never fitted: no read-out to report
    # A fitted state_aux head (data units) is read out too, in the state's units: a zero head answers D's mean.
    agent.student.state_aux_norm.update(torch.randn(50, dim) * 2.0 + 5.0)
    with torch.no_grad():
        agent.student.state_head.weight.zero_()
        agent.student.state_head.bias.zero_()
    tr = latent_error_trace(agent, env, "expert", seed=4, decode=True)
    decoded = tr["decoded"]
    mean = agent.student.state_aux_norm.mean.float().numpy()
    np.testing.assert_allclose(decoded.pop("student_aux"), np.broadcast_to(mean, (steps, dim)), rtol=1e-5)
    assert {k: v.shape for k, v in decoded.items()} == {k: (steps, dim) for k in ("true", "teacher", "student")}
    np.testing.assert_allclose(decoded["student"], decoded["teacher"], atol=1e-6)
    obs, _ = env.reset(seed=4)
    states = [obs["state"]]
    for _ in range(steps - 1):
        obs, *_ = env.step(env.unwrapped.expert_action())
        states.append(obs["state"])
    np.testing.assert_allclose(decoded["true"], np.stack(states), atol=1e-5)  # the controller's own episode
    assert np.abs(decoded["true"][-1] - decoded["true"][0]).max() > 1e-3  # and it moved the arm
    # A head that reads only some dimensions (DistillConfig.state_aux_dims) reports NaN in the others.
    dims = (16, 18)
    agent.config = dataclasses.replace(CFG, state_aux=1.0, state_aux_dims=dims)
    agent.student = StudentWorldModel(
        {"state": (dim,)}, ("state",), t.world_model.config.encoder, t.config.world_model.rssm, t.action_dim, len(dims)
    )
    agent.student.state_aux_norm.update(torch.randn(50, len(dims)) * 2.0 + 5.0)
    with torch.no_grad():
        agent.student.state_head.weight.zero_()
        agent.student.state_head.bias.zero_()
    aux = latent_error_trace(agent, env, "expert", seed=4, decode=True)["decoded"]["student_aux"]  # (T, D)
    mean = agent.student.state_aux_norm.mean.float().numpy()
    np.testing.assert_allclose(aux[:, list(dims)], np.broadcast_to(mean, (steps, len(dims))), rtol=1e-5)
    assert np.isnan(np.delete(aux, list(dims), axis=1)).all()
    with pytest.raises(ValueError, match="driver must be one of"):
        latent_error_trace(agent, env, "operator", seed=4)
    env.close()


def test_init_from_teacher_copies_the_dynamics_so_imagination_matches_from_equal_starts():
    """Eq. 4 replays the teacher's actions: a student started from the teacher's dynamics follows them exactly."""
    t = teacher()
    agent = TwistAgent(t, {"pixels": (64, 64, 3)}, dataclasses.replace(CFG, init_from_teacher=True), seed=0)
    fresh = TwistAgent(t, {"pixels": (64, 64, 3)}, CFG, seed=0)
    trssm, srssm = t.world_model.rssm, agent.student.rssm
    start = {
        k: v[:, -1]
        for k, v in trssm.observe(
            t.world_model.encoder({"state": torch.as_tensor(batch()["state"])}),
            torch.as_tensor(batch()["action"]),
            torch.as_tensor(batch()["is_first"]),
            sample=False,
        )[0].items()
    }
    actions = torch.rand(3, 4, 2) * 2 - 1
    with torch.no_grad():
        want, _ = trssm.imagine(start, actions, 4, sample=False)
        got, _ = srssm.imagine(start, actions, 4, sample=False)
        other, _ = fresh.student.rssm.imagine(start, actions, 4, sample=False)
    assert torch.allclose(got["deter"], want["deter"]) and torch.allclose(got["logits"], want["logits"])
    assert not torch.allclose(other["deter"], want["deter"])  # the default: a fresh student
    deter = trssm.config.deter  # the posterior's h columns are the teacher's, its embedding columns are new
    w_t, w_s = trssm.post_net.hidden[0].weight, srssm.post_net.hidden[0].weight
    assert torch.equal(w_s[:, :deter], w_t[:, :deter]) and w_s.shape[1] > w_t.shape[1]


def test_teacher_forced_term_is_zero_for_a_copy_and_positive_for_a_fresh_student():
    t = teacher()
    cfg = dataclasses.replace(CFG, teacher_forced=1.0)
    terms = distillation_loss(t.world_model, t.actor, copy_student(t), torch_batch(t, batch()), cfg)
    assert float(terms.teacher_forced) == pytest.approx(0.0, abs=1e-6)
    fresh = StudentWorldModel.for_teacher(t.world_model, SHAPES)
    terms = distillation_loss(t.world_model, t.actor, fresh, torch_batch(t, batch()), cfg)
    assert float(terms.teacher_forced) > 0 and "distill/teacher_forced" in terms.metrics()
    off = distillation_loss(t.world_model, t.actor, fresh, torch_batch(t, batch()), CFG)
    assert float(off.teacher_forced) == 0.0


def test_dataset_pushes_hold_random_actions_and_a_driver_acts_in_dagger_rounds(tmp_path):
    from twist_agents.data import EpisodeStore
    from twist_agents.twist.pipeline import DEMO_ENV, collect_dataset, shipped_teacher

    shipped = DreamerAgent.from_checkpoint(shipped_teacher(DEMO_ENV, "cpu"))
    kwargs = {"max_episode_steps": 40, "randomization": "none"}
    collect_dataset(
        shipped, DEMO_ENV, tmp_path / "p", 40, env_kwargs=kwargs, progress=False, push_rate=100.0, push_steps=(4, 4)
    )
    act = EpisodeStore(tmp_path / "p").load(EpisodeStore(tmp_path / "p").paths[0])["action"][1:, 0]  # (40,)
    held = np.diff(act) == 0
    assert held.mean() >= 0.7  # a push starts on every free step and holds its action for 4 steps
    student = TwistAgent(shipped, {"pixels": (64, 64, 3)}, CFG, seed=0)
    collect_dataset(shipped, DEMO_ENV, tmp_path / "d", 40, env_kwargs=kwargs, progress=False, driver=student)
    ep = EpisodeStore(tmp_path / "d").load(EpisodeStore(tmp_path / "d").paths[0])
    low, high = -1.0, 1.0  # cartpole's action bounds: stored actions are the driver's, normalised
    state = None
    for t_ in range(5):  # replay the driver on the stored pixels: it chose every stored action
        a, state = student.act({"pixels": ep["pixels"][t_]}, state, False)
        assert np.allclose(2 * (a - low) / (high - low) - 1, ep["action"][t_ + 1], atol=1e-5)


def test_state_aux_term_reads_the_state_from_the_embedding_and_trains_only_the_student(tmp_path):
    """The optional (not in the paper) state read-out: off by default, fitted by updates, saved with the agent."""
    t = teacher()
    off = TwistAgent(t, {"pixels": SHAPES["pixels"]}, CFG, seed=0)
    assert off.student.state_head is None
    assert off.update(batch())["distill/state_aux"] == 0.0
    torch.manual_seed(0)
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(CFG, lr=2e-3, state_aux=1.0), seed=0)
    assert agent.student.state_head is not None and agent.student.state_head.out_features == 5
    data = batch(b=4, t=8, seed=1)
    first = agent.update(data)["distill/state_aux"]
    assert first > 0
    for _ in range(60):
        last = agent.update(data)["distill/state_aux"]
    assert last < 0.5 * first
    # The teacher is untouched, and the head round-trips with the artefact.
    agent.save(tmp_path / "twist.pt")
    again = TwistAgent.from_checkpoint(tmp_path / "twist.pt")
    assert again.student.state_head is not None
    assert torch.equal(again.student.state_head.weight, agent.student.state_head.weight)
    # Switching it off removes the term from the loss exactly.
    student = again.student
    b = torch_batch(t, data)
    torch.manual_seed(0)
    on_terms = distillation_loss(t.world_model, t.actor, student, b, dataclasses.replace(CFG, state_aux=2.0))
    torch.manual_seed(0)
    off_terms = distillation_loss(t.world_model, t.actor, student, b, CFG)
    assert float(off_terms.state_aux) == 0.0
    assert float(on_terms.loss) == pytest.approx(float(off_terms.loss) + 2.0 * float(on_terms.state_aux), rel=1e-5)
    # A student without the read-out head cannot silently drop the term.
    with pytest.raises(ValueError, match="state_head"):
        distillation_loss(t.world_model, t.actor, off.student, b, dataclasses.replace(CFG, state_aux=1.0))


def test_state_aux_target_is_in_the_teachers_standardised_units_when_it_standardises_state():
    """A teacher with ``standardize_vectors`` reads ``(s - mean) / scale``; the read-out's target is the same, so a
    dimension that moves by centimetres counts as much as one that moves by metres."""
    cfg = dreamer_config("debug", encode=("state",), decode=("state",))
    cfg = dataclasses.replace(cfg, world_model=dataclasses.replace(cfg.world_model, standardize_vectors=True))
    t = DreamerAgent(cfg, SHAPES, ACTIONS, seed=0)
    data = batch(b=4, t=8, seed=2)
    data["state"][..., 0] *= 0.01  # a small-scale dimension, as the cube's position in metres
    b = torch_batch(t, data)
    standardizer = t.world_model.encoder.standardizer
    standardizer.fit(b["state"])
    agent = TwistAgent(
        t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(CFG, state_aux=1.0, state_aux_units="teacher"), seed=0
    )
    head = agent.student.state_head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(standardizer.mean)  # predicts the raw mean everywhere
    cfg1 = dataclasses.replace(CFG, state_aux=1.0, state_aux_units="teacher")
    raw_mean_loss = float(distillation_loss(t.world_model, t.actor, agent.student, b, cfg1).state_aux)
    with torch.no_grad():
        head.bias.zero_()  # predicts 0: the standardised mean
    std_mean_loss = float(distillation_loss(t.world_model, t.actor, agent.student, b, cfg1).state_aux)
    # Predicting the mean in standardised units costs ~1 per dimension and step (the target's variance), 5 dims.
    assert std_mean_loss == pytest.approx(8 * 5, rel=0.05)
    assert raw_mean_loss > std_mean_loss  # the raw mean is not the standardised target's mean


def test_state_aux_data_units_pool_the_first_batches_of_d_then_freeze(tmp_path):
    """``state_aux_units="data"``: the target is standardised with statistics pooled over the student's first
    batches (not one batch, not the teacher's first batch), frozen after, and saved with the student."""
    norm = RunningStandardizer(3, floor=0.01, batches=4)
    gen = torch.Generator().manual_seed(0)
    chunks = [
        torch.randn(5, 7, 3, generator=gen) * torch.tensor([0.001, 1.0, 10.0]) + i * torch.tensor([0.0, 1.0, 1.0])
        for i in range(6)
    ]
    for c in chunks:
        norm.update(c)
    pooled = torch.cat([c.reshape(-1, 3) for c in chunks[:4]]).double()  # only the first 4 batches count
    torch.testing.assert_close(norm.mean, pooled.mean(0))
    torch.testing.assert_close(norm.scale, pooled.std(0, unbiased=False).clamp_min(0.01))
    assert float(norm.scale[0]) == pytest.approx(0.01)  # the floor, not a blown-up millimetre
    with pytest.raises(ValueError, match="floor"):
        RunningStandardizer(3, floor=0.0)

    t = teacher()
    cfg = dataclasses.replace(CFG, state_aux=1.0)  # "data" is the default
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, cfg, seed=0)
    data = batch(b=4, t=8, seed=2)
    data["state"][..., 0] = data["state"][..., 0] * 0.01 + 3.0  # small-scale, offset: the cube's x in metres
    b = torch_batch(t, data)
    head = agent.student.state_head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()  # predicts 0: the standardised mean once the statistics are the batch's
    loss = float(distillation_loss(t.world_model, t.actor, agent.student, b, cfg).state_aux)
    # Answering the mean costs ~1 per dimension and step (8 steps, 5 dims): no dimension dominates.
    assert loss == pytest.approx(8 * 5, rel=0.05)
    agent.save(tmp_path / "twist.pt")
    again = TwistAgent.from_checkpoint(tmp_path / "twist.pt")
    torch.testing.assert_close(again.student.state_aux_norm.mean, agent.student.state_aux_norm.mean)
    with pytest.raises(ValueError, match="state_aux_units"):
        TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(cfg, state_aux_units="metres"))


def test_state_aux_dims_regress_only_the_chosen_state_dimensions(tmp_path):
    """``state_aux_dims``: the head reads only those dimensions, in their own data units; the others cost nothing;
    bad indices are refused; the choice round-trips through a checkpoint."""
    t = teacher()
    dims = (1, 3)
    cfg = dataclasses.replace(CFG, state_aux=1.0, state_aux_dims=dims)
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, cfg, seed=0)
    assert agent.student.state_head.out_features == len(dims)
    data = batch(b=4, t=8, seed=2)
    b = torch_batch(t, data)
    head = agent.student.state_head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()  # predicts the standardised mean once the statistics are the batch's
    loss = float(distillation_loss(t.world_model, t.actor, agent.student, b, cfg).state_aux)
    assert loss == pytest.approx(8 * len(dims), rel=0.05)  # ~1 per chosen dimension and step
    torch.testing.assert_close(
        agent.student.state_aux_norm.mean, b["state"].flatten(0, 1)[:, list(dims)].double().mean(0)
    )
    other = {**b, "state": b["state"].clone()}
    other["state"][..., 0] += 100.0  # a dimension the head does not read
    other["state"][..., 2] *= -50.0
    again = float(distillation_loss(t.world_model, t.actor, agent.student, other, cfg).state_aux)
    assert again == pytest.approx(loss, rel=1e-5)
    agent.save(tmp_path / "twist.pt")
    loaded = TwistAgent.from_checkpoint(tmp_path / "twist.pt")
    assert tuple(loaded.config.state_aux_dims) == dims and loaded.student.state_head.out_features == len(dims)
    for bad in ((1, 1), (-1,), (5,)):  # the debug teacher's state has 5 floats
        with pytest.raises(ValueError, match="state_aux_dims"):
            TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(cfg, state_aux_dims=bad))


def test_random_shift_moves_each_sequence_by_one_offset_with_edges_repeated():
    from twist_agents.twist.losses import random_shift

    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 16, 12, 3), dtype=torch.uint8, generator=gen)
    assert random_shift(images, 0) is images
    out = random_shift(images, 2, torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == torch.uint8
    pad = torch.nn.functional.pad(images.permute(0, 1, 4, 2, 3).float().flatten(0, 1), (2, 2, 2, 2), mode="replicate")
    pad = pad.unflatten(0, (6, 3)).permute(0, 1, 3, 4, 2)  # (B, L, H + 4, W + 4, C)
    moved = 0
    for b in range(6):  # the same crop of the replicate-padded frames for every frame of the sequence
        hits = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(pad[b, :, dy : dy + 16, dx : dx + 12].to(torch.uint8), out[b])
        ]
        assert hits, f"sequence {b} is not one translated copy"
        moved += (2, 2) not in hits
    assert moved > 0  # some sequences did move
    again = random_shift(images, 2, torch.Generator().manual_seed(1))
    assert torch.equal(again, out)  # the generator decides the offsets
    t = teacher()
    with pytest.raises(ValueError, match="shift_aug"):
        TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(CFG, shift_aug=-1))
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(CFG, shift_aug=4), seed=0)
    metrics = agent.update(batch())  # the shifted images train the student
    assert np.isfinite(metrics["distill/loss"])


def test_random_conv_filters_whole_sequences_keeping_where_things_are():
    from twist_agents.twist.losses import random_conv

    images = torch.zeros(8, 2, 16, 16, 3, dtype=torch.uint8)
    images[:, :, 5:10, 6:11] = torch.tensor([200, 30, 90], dtype=torch.uint8)  # a coloured square on black
    assert random_conv(images, 0.0) is images
    out = random_conv(images, 1.0, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 255.0 + 1e-3
    for b in range(8):
        assert torch.equal(out[b, 0], out[b, 1])  # one filter per sequence: equal frames stay equal
        background = out[b, 0, 12:15, 1:15]  # >= 2 px from the square and 1 px from the border
        square = out[b, 0, 6:9, 7:10]  # the square's interior
        assert torch.allclose(background, background[0, 0].expand_as(background), atol=1e-3)
        assert torch.allclose(square, square[0, 0].expand_as(square), atol=1e-3)
        assert not torch.allclose(background[0, 0], square[0, 0], atol=1.0)  # the square is still there
    assert not torch.allclose(out[0], out[1])  # each sequence its own filter
    some = random_conv(images, 0.5, torch.Generator().manual_seed(3))
    kept = [torch.equal(some[b], images[b].float()) for b in range(8)]
    assert any(kept) and not all(kept)
    t = teacher()
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="conv_aug"):
            TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(CFG, conv_aug=bad))
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(CFG, conv_aug=0.5, shift_aug=2), seed=0)
    assert np.isfinite(agent.update(batch())["distill/loss"])


def test_state_aux_needs_a_teacher_that_reads_state():
    cfg = dreamer_config("debug", encode=("pixels",), decode=("pixels",))
    t = DreamerAgent(cfg, {"pixels": SHAPES["pixels"]}, ACTIONS, seed=0)
    with pytest.raises(ValueError, match="state"):
        TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(CFG, state_aux=1.0))


def test_latent_aux_reads_the_state_from_the_students_latent_through_the_frozen_teachers_decoder(tmp_path):
    """``latent_aux`` (not in the paper): the teacher's state decoder on the student's posterior features, in the
    state_aux term's data units and dimensions; it adds exactly its weighted value, trains the student (its latent)
    and never the teacher's decoder, and is refused without the state_aux term it shares units with."""
    t = teacher()
    dims = (0, 2, 4)
    base = dataclasses.replace(CFG, lr=2e-3, state_aux=1.0, state_aux_dims=dims)
    cfg = dataclasses.replace(base, latent_aux=2.0)
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, cfg, seed=0)
    data = batch(b=4, t=8, seed=3)
    b = torch_batch(t, data)
    student = agent.student
    torch.manual_seed(0)
    on = distillation_loss(t.world_model, t.actor, student, b, cfg)
    torch.manual_seed(0)
    off = distillation_loss(t.world_model, t.actor, student, b, base)
    assert float(off.latent_aux) == 0.0 and float(on.latent_aux) > 0
    assert float(on.loss) == pytest.approx(float(off.loss) + 2.0 * float(on.latent_aux), rel=1e-5)
    # By hand: decode the student's posterior features, standardise both sides with the state_aux statistics.
    with torch.no_grad():
        post, _ = student.rssm.observe(
            student.encoder({"pixels": b["pixels"]}), b["action"], b["is_first"], sample=False
        )
        read = t.world_model.heads["decoder"].reconstruct(student.rssm.get_feat(post))["state"][..., list(dims)]
        norm = student.state_aux_norm
        want = (norm(read) - norm(b["state"][..., list(dims)])).pow(2).sum(-1).sum(1).mean()
    assert float(on.latent_aux) == pytest.approx(float(want), rel=1e-4)
    # Gradients reach the student's encoder and RSSM through the features, never the teacher's decoder.
    student.zero_grad()
    on.latent_aux.backward()
    decoder = t.world_model.heads["decoder"]
    assert all(p.grad is None for p in decoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.rssm.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.encoder.parameters())
    first = agent.update(data)["distill/latent_aux"]
    for _ in range(40):
        last = agent.update(data)["distill/latent_aux"]
    assert last < 0.7 * first
    for bad in (
        dataclasses.replace(CFG, latent_aux=1.0),
        dataclasses.replace(base, latent_aux=1.0, state_aux_units="teacher"),
    ):
        with pytest.raises(ValueError, match="latent_aux"):
            TwistAgent(t, {"pixels": SHAPES["pixels"]}, bad)
    blind = DreamerAgent(dreamer_config("debug", encode=("state",), decode=("pixels",)), SHAPES, ACTIONS, seed=0)
    with pytest.raises(ValueError, match="decodes 'state'"):
        TwistAgent(blind, {"pixels": SHAPES["pixels"]}, cfg)


def test_readout_pretrain_fits_the_encoders_readout_alone_then_distillation_follows(tmp_path, monkeypatch):
    """``readout_pretrain`` (not in the paper): updates of the state_aux read-out alone, on single frames of D; they
    move the encoder and its head, never the student's RSSM; ``distil`` runs them first (checkpointed, resumable,
    not counted as distillation updates), then distils; refused without the state_aux term."""
    from twist_agents.data import EpisodeStore, load_episode
    from twist_agents.twist.pipeline import distil, top_return_episodes

    t = teacher()
    cfg = dataclasses.replace(CFG, lr=2e-3, state_aux=1.0, state_aux_dims=(0, 1, 2), readout_pretrain=30)
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, cfg, seed=0)
    frames = batch(b=16, t=1, seed=4)
    rssm = {k: v.clone() for k, v in agent.student.rssm.state_dict().items()}
    enc = {k: v.clone() for k, v in agent.student.encoder.state_dict().items()}
    first = agent.pretrain_update(frames)
    for _ in range(40):
        last = agent.pretrain_update(frames)
    assert last < 0.5 * first and agent.pretrain_updates == 41 and agent.updates == 0
    assert all(torch.equal(v, agent.student.rssm.state_dict()[k]) for k, v in rssm.items())
    assert any(not torch.equal(v, agent.student.encoder.state_dict()[k]) for k, v in enc.items())
    for bad in (
        dataclasses.replace(CFG, readout_pretrain=10),
        dataclasses.replace(cfg, readout_pretrain=-1),
        dataclasses.replace(cfg, readout_pretrain_batch=0),
        dataclasses.replace(cfg, readout_pretrain_focus=1.5),
        dataclasses.replace(cfg, readout_pretrain_focus=0.5, readout_pretrain_focus_top=0.0),
    ):
        with pytest.raises(ValueError, match="readout_pretrain"):
            TwistAgent(t, {"pixels": SHAPES["pixels"]}, bad)

    store = EpisodeStore(tmp_path / "d")
    for seed in range(3):
        ep = {k: v[0] for k, v in batch(b=1, t=12, seed=seed).items()}
        store.add(
            {
                **ep,
                "reward": np.full(12, [0.0, 2.0, 1.0][seed], np.float32),
                "is_last": np.arange(12) == 11,
                "is_terminal": np.zeros(12, bool),
            }
        )
    run = dataclasses.replace(cfg, updates=3, checkpoint_every=10)
    student = distil(t, tmp_path / "d", tmp_path / "out", run, seed=0, progress=False)
    assert student.pretrain_updates == 30 and student.updates == 3
    again = distil(t, tmp_path / "d", tmp_path / "out", dataclasses.replace(run, updates=5), seed=0, progress=False)
    assert again.pretrain_updates == 30 and again.updates == 5  # resumed: no second pretraining
    stopped = distil(t, tmp_path / "d", tmp_path / "cut", run, seed=0, progress=False, time_limit_s=0.0)
    assert stopped.pretrain_updates == 0 and stopped.updates == 0  # the time limit also bounds the pretraining
    # D (3 episodes) fits the default cache, so the runs above shared one cache; a smaller one frees the frames'.
    small = distil(
        t, tmp_path / "d", tmp_path / "small", dataclasses.replace(run, cache_episodes=1), seed=0, progress=False
    )
    assert small.pretrain_updates == 30 and small.updates == 3
    # readout_pretrain_focus draws its share of the frames from the episodes with the highest returns.
    assert top_return_episodes(store, 0.5) == [store.paths[1], store.paths[2]]  # ceil(1.5): returns 24, 12 of 0
    assert top_return_episodes(store, 0.1) == [store.paths[1]]  # at least one
    focused = dataclasses.replace(run, readout_pretrain_focus=1.0, readout_pretrain_focus_top=0.3)
    seen: list[np.ndarray] = []

    def record(self: TwistAgent, frames: dict[str, np.ndarray]) -> float:
        seen.append(frames["pixels"][:, 0])  # (64, H, W, C)
        self.pretrain_updates += 1
        return 0.0

    monkeypatch.setattr(TwistAgent, "pretrain_update", record)
    distil(t, tmp_path / "d", tmp_path / "focus", dataclasses.replace(focused, updates=0), seed=0, progress=False)
    best = load_episode(store.paths[1])["pixels"]  # (12, H, W, C)
    drawn = np.concatenate(seen)  # (30 * 64, H, W, C)
    assert len(seen) == 30 and all((best == f).all(axis=(1, 2, 3)).any() for f in drawn)


def test_readout_feed_gives_the_posterior_the_detached_readout_in_training_and_acting(tmp_path):
    """``readout_feed`` (not in the paper): the student's posterior reads ``state_head``'s output after the embedding,
    in the loss and when acting; Eq. 3 never trains the head through it (only the state_aux term does); the
    artefact round-trips; refused without the state_aux read-out."""
    t = teacher()
    dims = (0, 2)
    base = dataclasses.replace(CFG, state_aux=1.0, state_aux_dims=dims)
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(base, readout_feed=True), seed=0)
    plain = TwistAgent(t, {"pixels": SHAPES["pixels"]}, base, seed=0)
    student = agent.student
    e = student.encoder.out_dim
    assert student.rssm.embed_dim == e + len(dims) and plain.student.rssm.embed_dim == e
    b = torch_batch(t, batch(b=2, t=6, seed=5))
    with torch.no_grad():
        emb = student.encoder({"pixels": b["pixels"]})  # (B, L, E)
        fed = student.embed({"pixels": b["pixels"]})  # (B, L, E + 2)
    torch.testing.assert_close(fed[..., :e], emb)
    torch.testing.assert_close(fed[..., e:], student.state_head(emb).detach())
    torch.testing.assert_close(plain.student.posterior_input(emb), emb)
    # The loss's posterior is the one filtered from the fed input: equal to filtering it by hand.
    torch.manual_seed(0)
    terms = distillation_loss(t.world_model, t.actor, student, b, agent.config)
    with torch.no_grad():
        t_post, _ = t.world_model.rssm.observe(
            t.world_model.encoder({"state": b["state"]}), b["action"], b["is_first"], sample=False
        )
        s_post, _ = student.rssm.observe(fed, b["action"], b["is_first"], sample=False)
    want = kl_categorical(s_post["logits"], t_post["logits"]).sum(1).mean()
    assert float(terms.post.detach()) == pytest.approx(float(want), rel=1e-5)
    # Eq. 3 + Eq. 4 alone leave the head untouched: the fed read-out is detached.
    student.zero_grad()
    (terms.loss - agent.config.state_aux * terms.state_aux).backward()
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0.0 for p in student.state_head.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.encoder.parameters())
    # The head's output changes what the agent does: acting goes through the fed input.
    obs = {"pixels": batch(b=1, t=1, seed=6)["pixels"][0, 0], "state": np.zeros(5, np.float32)}
    a0, _ = agent.act(obs, None, explore=False)
    with torch.no_grad():
        student.state_head.bias.add_(50.0)
    a1, _ = agent.act(obs, None, explore=False)
    assert not np.allclose(a0, a1)
    agent.save(tmp_path / "agent.pt")
    loaded = TwistAgent.from_checkpoint(tmp_path / "agent.pt")
    assert loaded.config.readout_feed and loaded.student.rssm.embed_dim == e + len(dims)
    np.testing.assert_allclose(loaded.act(obs, None, explore=False)[0], a1, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="readout_feed"):
        TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(CFG, readout_feed=True))
    with pytest.raises(ValueError, match="readout_feed"):
        StudentWorldModel(SHAPES, ("pixels",), t.world_model.config.encoder, t.world_model.config.rssm, 2, 0, True)


def test_readout_only_posterior_reads_just_the_readout_so_only_state_aux_trains_the_encoder():
    """``readout_only`` (not in the paper): the posterior's input is the detached read-out alone, so Eq. 3 and
    Eq. 4 train the RSSM but never the encoder or its head; refused without ``readout_feed``."""
    t = teacher()
    dims = (1, 3, 4)
    cfg = dataclasses.replace(CFG, state_aux=1.0, state_aux_dims=dims, readout_feed=True, readout_only=True)
    agent = TwistAgent(t, {"pixels": SHAPES["pixels"]}, cfg, seed=0)
    student = agent.student
    assert student.rssm.embed_dim == len(dims)
    b = torch_batch(t, batch(b=2, t=6, seed=7))
    with torch.no_grad():
        emb = student.encoder({"pixels": b["pixels"]})
    torch.testing.assert_close(student.embed({"pixels": b["pixels"]}), student.state_head(emb))
    terms = distillation_loss(t.world_model, t.actor, student, b, cfg)
    student.zero_grad()
    (terms.loss - cfg.state_aux * terms.state_aux).backward(retain_graph=True)
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0.0 for p in student.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.rssm.parameters())
    student.zero_grad()
    terms.state_aux.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.encoder.parameters())
    obs = {"pixels": batch(b=1, t=1, seed=6)["pixels"][0, 0], "state": np.zeros(5, np.float32)}
    assert agent.act(obs, None, explore=False)[0].shape == (2,)
    with pytest.raises(ValueError, match="readout_only"):
        TwistAgent(t, {"pixels": SHAPES["pixels"]}, dataclasses.replace(cfg, readout_feed=False))
