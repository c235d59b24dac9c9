"""Where the student's latents leave the teacher's: the distillation error per latent along closed-loop episodes.

Eq. 3 is minimised on short windows of the teacher's dataset; deployment runs the student's recurrence for
whole episodes on its *own* trajectory. This module measures, at every time step ``t`` of an episode, the
three terms of Eq. 3 between the two filters running side by side on the same episode (teacher on
``state``, student on ``pixels``, both fed the same actions)::

    h     ||h_t^T - h_t^S||^2
    prior KL[p_S(z^_t | h_t^S) || p_T(z^_t | h_t^T)]
    post  KL[q_S(z_t | h_t^S, o_t) || q_T(z_t | h_t^T, s_t)]

along two kinds of episodes: driven by the **student** (its own closed loop, what deployment sees) and
driven by the **teacher** (the distribution the dataset came from). A gap between the two curves is
compounding error on the student's own states; a curve that grows with ``t`` is drift of the recurrent
state beyond the training window.

Example (a CPU minute)::

    from twist_agents.twist.pipeline import load_twist
    from twist_agents.twist.diagnostics import latent_error_traces, plot_latent_errors
    traces = latent_error_traces(load_twist("runs/demo"), "TWIST/CartpoleBalance-Distracting-v0", episodes=1)
    plot_latent_errors(traces, "latent_errors.png")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from twist_agents.dreamer.rssm import kl_categorical
from twist_agents.twist.agent import TwistAgent

TERMS = ("h", "prior", "post")
"""The per-step error terms (see the module docstring)."""


DRIVERS = ("student", "teacher", "expert")
"""Who chooses the actions of a traced episode (see :func:`latent_error_trace`)."""


@torch.no_grad()
def latent_error_trace(agent: TwistAgent, env: Any, driver: str, seed: int, decode: bool = False) -> dict[str, Any]:
    """One episode with both filters side by side; returns per-step errors ``{term: [T floats]}`` and the return.

    Args:
        agent: the TWIST agent (student world model + the teacher).
        env: an env with paired observations (``obs_mode="paired"``).
        driver: ``"student"`` (the student's latents choose the actions: deployment), ``"teacher"``, or
            ``"expert"``: the env's scripted controller (``env.unwrapped.expert_action()``, the Franka block
            tasks), whose episodes move the cube, which a failing policy's do not.
        seed: the episode's reset seed.
        decode: also return ``"decoded"``: ``{"true": (T, D), "teacher": (T, D), "student": (T, D)}`` arrays, the
            true state and what the *teacher's* state decoder reads from each filter's latent at every step. The
            student is distilled into the teacher's latent space (Eq. 3), so the decoder reads its latents too:
            the student's error beside the teacher's is its perception error in the state's own units. With a
            ``state_aux`` head in data units (``DistillConfig.state_aux_units="data"``) also ``"student_aux"``
            ``(T, D)``: that head's read-out of the student's frame embedding, before the RSSM (NaN in the state
            dimensions outside ``DistillConfig.state_aux_dims``).
    """
    if driver not in DRIVERS:
        raise ValueError(f"latent_error_trace: driver must be one of {DRIVERS}, got {driver!r}")
    teacher, student = agent.teacher, agent.student
    t_keys, s_keys = teacher.config.world_model.encode, student.encode
    decoder = teacher.world_model.heads["decoder"] if decode else None
    if decoder is not None and "state" not in decoder.vec_keys:
        raise ValueError("latent_error_trace: decode=True needs a teacher that decodes 'state'")
    low, high = teacher._low, teacher._high
    obs, _ = env.reset(seed=seed)
    t_state = s_state = None
    out: dict[str, list[float]] = {k: [] for k in TERMS}
    decoded: dict[str, list[np.ndarray]] = {"true": [], "teacher": [], "student": []}
    # The student's state_aux read-out straight from its encoder (no RSSM), where it has one in data units: it
    # tells an encoder that does not see the scene from a latent that does not carry what the encoder sees.
    aux_norm = student.state_aux_norm  # exists exactly when state_head does
    aux = decode and aux_norm is not None and agent.config.state_aux_units == "data" and float(aux_norm.count) > 0
    if aux:
        decoded["student_aux"] = []
    total, done = 0.0, False
    action = torch.zeros(1, teacher.action_dim, device=teacher.device)
    while not done:
        first = torch.ones(1) if t_state is None else torch.zeros(1)
        t_emb = teacher.world_model.encoder({k: torch.as_tensor(np.asarray(obs[k]))[None] for k in t_keys})
        s_emb = student.encoder({k: torch.as_tensor(np.asarray(obs[k]))[None] for k in s_keys})
        t_post, t_prior = teacher.world_model.rssm.obs_step(t_state, action, t_emb, first, sample=False)
        s_post, s_prior = student.rssm.obs_step(s_state, action, student.posterior_input(s_emb), first, sample=False)
        out["h"].append(float((t_post["deter"] - s_post["deter"]).pow(2).sum()))
        out["prior"].append(float(kl_categorical(s_prior["logits"], t_prior["logits"]).sum()))
        out["post"].append(float(kl_categorical(s_post["logits"], t_post["logits"]).sum()))
        t_feat, s_feat = teacher.world_model.rssm.get_feat(t_post), student.rssm.get_feat(s_post)
        if decoder is not None:
            decoded["true"].append(np.asarray(obs["state"], np.float32))
            decoded["teacher"].append(decoder.reconstruct(t_feat)["state"][0].cpu().numpy())  # (D,)
            decoded["student"].append(decoder.reconstruct(s_feat)["state"][0].cpu().numpy())  # (D,)
            if aux:
                read = aux_norm.inverse(student.state_head(s_emb))[0].cpu().numpy()  # (len(dims),) or (D,)
                full = np.full(decoded["true"][-1].shape, np.nan, np.float32)  # NaN: a dimension it does not read
                full[list(agent.config.state_aux_dims) or slice(None)] = read
                decoded["student_aux"].append(full)  # (D,)
        if driver == "expert":
            scaled = np.asarray(env.unwrapped.expert_action(), np.float32)
            action = torch.as_tensor(2.0 * (scaled - low) / (high - low) - 1.0, device=teacher.device)[None]
        else:
            action = agent.actor(s_feat if driver == "student" else t_feat).mode().clamp(-1.0, 1.0)  # (1, A)
            scaled = (low + (action[0].cpu().numpy() + 1.0) * 0.5 * (high - low)).astype(np.float32)
        obs, reward, terminated, truncated, _ = env.step(scaled)
        total += float(reward)
        done = bool(terminated or truncated)
        t_state, s_state = t_post, s_post
    result: dict[str, Any] = {**out, "return": total}
    if decoder is not None:
        result["decoded"] = {k: np.stack(v) for k, v in decoded.items()}
    return result


def latent_error_traces(
    agent: TwistAgent, env_id: str, episodes: int = 2, seed: int = 5000, randomization: str = "test"
) -> dict[str, Any]:
    """Per-step mean errors over ``episodes`` episodes for both drivers, on ``randomization`` appearances.

    Returns:
        ``{"student": {"h": [...], "prior": [...], "post": [...], "returns": [...]}, "teacher": {...},
        "randomization": ...}`` (per-step means over episodes, truncated to the shortest episode; the drivers
        ``student`` and ``teacher``, see :func:`latent_error_trace`).
    """
    import gymnasium as gym

    import twist_envs  # noqa: F401  (registers the TWIST/ ids; the algorithms never import the runner)

    env = gym.make(env_id, obs_mode="paired", randomization=randomization)
    result: dict[str, Any] = {"randomization": randomization, "episodes": episodes}
    try:
        for driver in ("student", "teacher"):
            runs = [latent_error_trace(agent, env, driver, seed + i) for i in range(episodes)]
            n = min(len(r["h"]) for r in runs)
            result[driver] = {k: np.mean([r[k][:n] for r in runs], 0).round(4).tolist() for k in TERMS}
            result[driver]["returns"] = [r["return"] for r in runs]
    finally:
        env.close()
    return result


def plot_latent_errors(traces: dict[str, Any], path: str | Path) -> None:
    """One panel per term: error over time steps, student-driven vs teacher-driven episodes (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TERMS), figsize=(4.2 * len(TERMS), 3.2))
    labels = {"h": "||h_T - h_S||^2", "prior": "KL[p_S || p_T]", "post": "KL[q_S || q_T]"}
    for ax, term in zip(axes, TERMS, strict=True):
        for driver, color in (("student", "tab:blue"), ("teacher", "tab:orange")):
            ys = traces[driver][term]
            mean_ret = np.mean(traces[driver]["returns"])
            ax.plot(range(len(ys)), ys, color=color, lw=1, label=f"{driver}-driven (return {mean_ret:.0f})")
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_title(labels[term])
        ax.set_xlabel("time step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"student vs teacher latents along closed-loop episodes ({traces['randomization']} appearances)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["DRIVERS", "TERMS", "latent_error_trace", "latent_error_traces", "plot_latent_errors"]
