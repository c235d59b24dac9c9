"""Distil the student of a finished ``franka_twist.py`` run again, with other distillation settings, from the same
teacher and dataset, and measure what changes: does the student then see the cube?

``franka_twist.py``'s read-out stage shows the BlockPush student reading the cube 10.7 cm off on held-out
appearances (its teacher 1.2-1.8 cm) and ``franka_perception.py`` shows that the student's encoder, trained
directly on the frames, reads it to 4-6 cm. Eq. 3 reaches the encoder only through the posterior's discrete
latents; :attr:`~twist_agents.twist.config.DistillConfig.state_aux` (not in the paper) adds the direct per-frame
target, a linear read-out of the paired state from the embedding: ``state-aux`` in the teacher's standardised
units (fitted on its first batch, where the cube's orientation barely moved), ``state-aux-data`` in units
standardised over the student's first 100 batches of D (``DistillConfig.state_aux_units``), ``state-aux-pos``
only the cube's and the tool tip's positions (``DistillConfig.state_aux_dims``), ``state-aux-pos-short`` that on
40 sequences of 10 frames per batch instead of 8 of 50 (many scenes per batch, as the supervised probe),
``state-aux-pos-short-shift`` that with the images shifted by up to 4 pixels (``DistillConfig.shift_aug``),
``state-aux-pos-short-shift-latent`` that with the teacher's decoder reading the positions from the student's
latent as well (``DistillConfig.latent_aux``). A
rerun with a larger ``--budget-minutes`` resumes the run and replaces its entry. With ``--teacher-minutes M`` the
student copies a stronger teacher: a copy of the grid's teacher first trains on to M minutes of training clock
(:func:`continued_teacher`; more env steps and a larger D), and the entry, ``<variant>_teacher<M>m_seed<N>``,
reports that teacher's own success on state in place of the grid student's. With ``--dagger-steps N`` the finished
run of the variant (at the same ``--teacher-minutes``) drives N env steps into a linked copy of D and its student
distils on to ``--budget-minutes`` in total (:func:`dagger_run`; entry ``<name>_dagger<N>_seed<s>``). With
``--no-camera-jitter`` the student distils on D drawn again from its states without the camera pose jitter
(:func:`rerendered_teacher`; the teacher is the same) and is evaluated without it, then with it
(``heldout_camera_jitter``); entry ``<name>_nocam_seed<s>``. With ``--wide-textures`` D is drawn again with
nine training texture families instead of four (:data:`~wrappers.textures.WIDE_TRAIN_FAMILIES`); the held-out
trials are unchanged; entry ``<name>[_nocam]_wide_seed<s>``; with ``--collage-textures`` from those nine and as many
collages of them (:data:`~wrappers.textures.COLLAGE_TRAIN_FAMILIES`; entry ``..._collage_seed<s>``; measured with
``-pre20k``, 25 minutes, 256: the teacher with the head's cube 28/100, 32/100 against 20/100, 40/100, no change); with
``--bank N`` each bank holds N training textures instead of 32 (entry ``..._bank<N>_seed<s>``); with
``--held-fraction F`` that share of D's episodes holds its appearance for the episode (entry
``..._held<F>_seed<s>``; measured at 0.5 with the wide textures and 256: held-out success 10/100, 17/100 against
12/100, 15/100 without, no change). With ``--heldout-trials N`` (N > 20) the entry gains
``heldout_more``: the held-out trials again with N reset seeds (50000 on; the first 20 are ``heldout``'s), for
success rates 20 trials cannot separate (near 15% success a seed's 95% interval is +-16 points at 20, +-7 at
100); a student of a trained-on teacher gains ``teacher_state_more``, that teacher on state over the same N. This
script trains a fresh student with a variant's settings for ``--budget-minutes`` of distillation (the teacher
and its dataset D are the grid run's, linked, not copied), then evaluates it beside the grid run's own student
on the same episodes:

* success and return on held-out appearances (``randomization="test"``, reset seeds 50000..50019, the policy's
  mode), 20 trials;
* the same trials on D's appearances (``train_looks``) and with the held-out trials' two differences from D taken
  one at a time (:func:`looks_swapped`: texture families, and appearance held for the episode);
* the held-out schedule taken apart on D's own appearances (:func:`held_parts`: textures, or colours and light,
  or everything held for the episode);
* the read-out of ``franka_twist.student_readout`` (cube and tip xy error in cm, ``test`` and ``train``
  appearances, scripted and student-driven episodes);
* for a student with a ``state_aux`` head in data units, that head's read-out on D's own frames
  (:func:`aux_fit_on_d`): far below the scripted pushes' error, it memorises D;
* with ``--head-cube``, for a student whose head reads the cube's position: the teacher on the true state beside
  the teacher handed the cube as that head reads it from each frame (:class:`HeadCube`), on the
  ``--heldout-trials`` held-out trials: what the student would reach if its latent carried its encoder's reading.

Writes ``benchmarks/results/franka_distill_probe.json`` (one entry per variant and seed; a rerun replaces it)::

    MUJOCO_GL=egl LP_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/franka_distill_probe.py \\
        --variant state-aux --seed 0 --budget-minutes 20
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "franka_distill_probe.json"
ENV = "TWIST/BlockPush-Sim-v0"


def state_dims(*fields: str) -> tuple[int, ...]:
    """Indices of the Franka state's ``fields`` (:data:`~twist_envs.franka.sim.STATE_LAYOUT`) in the flat state."""
    from twist_envs.franka.sim import STATE_SLICES

    # STATE_SLICES keeps the state's order, so the indices come out sorted.
    return tuple(i for name, where in STATE_SLICES.items() if name in fields for i in range(where.start, where.stop))


POSITIONS = state_dims("ee_pos", "block_pos")
"""The tool tip's and the cube's positions (6 of the 34 floats): what ``franka_perception.py`` reads."""
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {},
    "state-aux": {"state_aux": 1.0, "state_aux_units": "teacher"},
    "state-aux-data": {"state_aux": 1.0, "state_aux_units": "data"},
    # Only the positions, weighted so that answering their mean costs ~30 per step as all 34 floats at weight 1
    # did: the read-out's gradient is about the cube and the tip, not the arm's joints.
    "state-aux-pos": {"state_aux": 5.0, "state_aux_dims": POSITIONS},
    # The same, on 40 sequences of 10 frames (400 frames as 8 x 50): 40 scenes per batch, nearer the supervised
    # probe's 64 frames from random episodes than 8 sequences of consecutive, nearly identical frames.
    "state-aux-pos-short": {"state_aux": 5.0, "state_aux_dims": POSITIONS, "seq_len": 10, "batch_size": 40},
    # The same with the student's images shifted by up to 4 pixels per sequence (DistillConfig.shift_aug): that
    # student's cube read-out fit D's frames to 3.7-3.8 cm but fresh episodes only to 8-11 cm.
    "state-aux-pos-short-shift": {
        "state_aux": 5.0,
        "state_aux_dims": POSITIONS,
        "seq_len": 10,
        "batch_size": 40,
        "shift_aug": 4,
    },
    # The same with the teacher's state decoder reading the positions from the student's *latent* too
    # (DistillConfig.latent_aux, same weight): the shift student's encoder read the cube to 6-7 cm, its latent
    # (what the actor reads) to 8-12 cm.
    "state-aux-pos-short-shift-latent": {
        "state_aux": 5.0,
        "latent_aux": 5.0,
        "state_aux_dims": POSITIONS,
        "seq_len": 10,
        "batch_size": 40,
        "shift_aug": 4,
    },
}
"""Distillation overrides (:class:`~twist_agents.twist.config.DistillConfig` fields) on the ``cpu`` preset."""
# The latent student after 5000 updates of the encoder's read-out alone on 64 single frames of D each
# (DistillConfig.readout_pretrain): those students' encoders still misread D's own frames by 5-6 cm after 1250
# updates, where the supervised probe's encoder fits its frames to ~1.5 cm.
VARIANTS["state-aux-pos-short-shift-latent-pretrain"] = {
    **VARIANTS["state-aux-pos-short-shift-latent"],
    "readout_pretrain": 5000,
}
# The same with all of D in RAM (DistillConfig.cache_episodes above D's ~1280 episodes, ~2.4 GB per process): at the
# default 200 most sequences of a batch load and decompress an episode. Measured: 1.5x the updates in 30 minutes,
# no better student.
VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached"] = {
    **VARIANTS["state-aux-pos-short-shift-latent-pretrain"],
    "cache_episodes": 4000,
}
# The same with half of the student's sequences through a random 3x3 filter (DistillConfig.conv_aug): the cached
# students succeed in 5/20, 5/20 trials on the training appearances and 0/20, 1/20 on the held-out ones. Measured:
# worse on both splits (the filters wash out the 2-3 pixel cube).
VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-conv"] = {
    **VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached"],
    "conv_aug": 0.5,
}
# The cached student with the latent's read-out weighted 4x (DistillConfig.latent_aux 20): on D drawn with nine
# families and 256 textures the encoder's head reads the cube on held-out scripted pushes to 2.6 / 3.4 cm, the latent
# (what the actor reads) only to 7.1 / 7.9: the posterior leans on features of the embedding that the looks move.
# Measured (30 minutes, seeds 2 / 3, that D): the latent's held-out read-out 6.7 / 9.2 cm, held-out success 9/100,
# 9/100 against 12/100, 15/100 at weight 5: not it.
VARIANTS["state-aux-pos-short-shift-latent20-pretrain-cached"] = {
    **VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached"],
    "latent_aux": 20.0,
}
# The cached student whose posterior reads the encoder's read-out of the positions beside the embedding
# (DistillConfig.readout_feed): on held-out looks that head reads the cube to 2.3-4.6 cm, the latent to 6.7-9.2.
# Measured (30 minutes, seeds 2 / 3, the wide D): held-out success 34/200, 33/200 against 27/200, 25/200 without it.
VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed"] = {
    **VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached"],
    "readout_feed": True,
}
# The feed student with the encoder's channels doubled (DistillConfig.cnn_depth 32, the cpu preset's 16): with the
# feed, the teacher handed the cube as the 16-channel head reads it from each held-out frame succeeds in 16/100,
# 20/100 trials (seeds 4 / 5, 20 minutes) where on the true state it succeeds in 43/100, 51/100; the head's error is
# mostly a bias held for the episode. Does a wider encoder read unseen looks better? ~3x the cost per frame.
# Measured (same D and teachers, 20 minutes: 5000 pretraining updates took ~12 of them, then 606 / 606 distillation
# updates): the teacher with the head's cube 16/100, 26/100 (the 16-channel heads: 16/100, 20/100; discordant trials
# 12 / 12 and 16 / 22, within the noise), the head's error on the true-state teacher's episodes 4.5 / 4.7 cm (5.4 /
# 4.3); the students themselves 6/100, 8/100 after 606 updates. Not the lever on its own.
VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed-d32"] = {
    **VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed"],
    "cnn_depth": 32,
}
# The feed student with four times the read-out pretraining (20000 updates of 64 frames, ~7 passes over D instead of
# ~2): after 5000 the 16-channel head still misreads D's own frames by 3.5 cm (seeds 4 / 5, 20 minutes), where the
# supervised probe's encoder fits its frames to 1-1.5 cm: it underfits. ~19 of the first 25 minutes go to it.
# Measured (same D and teachers, 25 minutes, 1068 / 1073 distillation updates): the head's fit on D 2.5 / 2.9 cm, the
# teacher with the head's cube 20/100, 40/100 (5000 updates: 16/100, 20/100; discordant trials 8 / 12 and 8 / 28);
# resumed to 40 minutes (3531 / 3556 updates) the students themselves 18/100, 29/100 held-out, 25% / 45% of 20
# training-look trials; the 5000-update students resumed to the same 40 minutes (5422 / 5417 updates): 12/100, 10/100
# (discordant trials 10 / 16 and 6 / 25). The first lever on the reading that moved it on both seeds.
VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed-pre20k"] = {
    **VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed"],
    "readout_pretrain": 20000,
}
# The pre20k student with half of each read-out pretraining batch drawn from the quarter of D's episodes with the
# highest returns (DistillConfig.readout_pretrain_focus): the pretrained head misreads the cube most near the goal,
# where a successful push ends, and D (collected while the teacher learned) holds such frames in 13% of its steps,
# the final teacher's episodes in 40-48%. Half from the top quarter (48%) makes it ~30%.
# Measured (same D and teachers, 40 minutes, 3322 / 3443 distillation updates; pre20k at 40 minutes in brackets): the
# head's error near the goal 4.1 / 3.8 cm (6.0 / 4.0), its fit on D 2.4 / 2.7 cm (2.3 / 2.5), the teacher with the
# head's cube 27/100, 36/100 (22/100, 33/100; discordant 15 / 20 and 17 / 20), the students 26/100, 23/100 (18/100,
# 29/100; discordant 13 / 21 and 20 / 14). The reading near the goal improved on seed 4; success within the noise.
VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed-pre20k-focus"] = {
    **VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed-pre20k"],
    "readout_pretrain_focus": 0.5,
}
# The focus student with twice the read-out pretraining again (40000 updates, ~38 minutes): after 20000 the head
# fits D's frames to 2.3-2.9 cm, the supervised probe's encoder to 1-1.5 cm. At a 60-minute budget it leaves about
# as many distillation updates as 20000 at 40 minutes. Measured (same D and teachers, 60 minutes, 2930 / 2862
# distillation updates; -pre20k-focus at 40 minutes in brackets): the head's error on the true-state teacher's
# episodes 2.8 / 3.2 cm (3.6 / 3.6), near the goal 3.2 / 3.5 (4.1 / 3.8), its fit on D 2.1 / 2.3 cm (2.4 / 2.7);
# the teacher with the head's cube 34/100, 29/100 (27/100, 36/100), the students 21/100, 29/100 (26/100, 23/100),
# through BlockPush-Real-v0 with the sim twins 5/20, 1/20. The reading keeps improving; success stays at ~25%. The
# control at equal wall clock, -pre20k-focus resumed to 60 minutes (6091 / 6217 updates): 29/100, 30/100.
VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed-pre40k-focus"] = {
    **VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed-pre20k-focus"],
    "readout_pretrain": 40000,
}
# The same with the posterior reading that read-out *instead of* the embedding (DistillConfig.readout_only): the
# images reach the latent only as the supervised positions, the arm's state comes from the sequence model.
# Measured (same settings): 2/100, 4/100 held-out, 0/20 on the training appearances: far worse.
VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-only"] = {
    **VARIANTS["state-aux-pos-short-shift-latent-pretrain-cached-feed"],
    "readout_only": True,
}
TRIALS = 20


def grid_run(runs_dir: Path, seed: int) -> Path:
    """The finished twist run of ``franka_twist.py`` for BlockPush and ``seed`` in ``runs_dir``."""
    run = runs_dir / "runs" / "twist" / ENV.replace("/", "_") / f"seed{seed}"
    if not (run / "DONE").exists():
        raise SystemExit(f"franka_distill_probe.py: {run} is not a finished franka_twist.py run; run the grid first")
    return run


def copy_teacher(src: Path, dst: Path) -> None:
    """Copy the teacher run ``src`` to ``dst`` without its ``DONE``, so that ``train_teacher`` resumes the copy.

    The episodes (D) are hard-linked: they are written once and never changed, so a link is a copy that costs no
    disk. The rest (checkpoints, metrics, config) is copied. The copy appears at ``dst`` only once complete; one
    killed half-way is started again.
    """
    partial = dst.with_name(dst.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)

    def link_episodes(a: str, b: str) -> None:
        (os.link if Path(a).parent.name == "episodes" else shutil.copy2)(a, b)

    shutil.copytree(src, partial, copy_function=link_episodes, ignore=shutil.ignore_patterns("DONE"))
    partial.rename(dst)


def continued_teacher(source: Path, minutes: float, seed: int) -> Path:
    """The grid run's teacher trained on to ``minutes`` of training wall clock, in a copy: the probe's run dir for it.

    The copy (``runs/franka_distill_probe/<grid>/teacher<M>m_s<seed>/teacher``, :func:`copy_teacher`) resumes
    under the task recipe the grid trained with, so it continues the same run: more env steps, and more episodes
    in D. The grid's own run is not touched. Resumes when killed; a finished one is returned as it is. Its
    ``summary.json`` keeps the teacher's clock over both parts.
    """
    from franka_twist import recipe_tag

    from twist_agents.runner.recipes import recipe_for
    from twist_agents.runner.request import BUDGET_STEP_CAP
    from twist_agents.twist.pipeline import read_summary, train_teacher

    grid_dir = source.parents[3]
    if not grid_dir.name.endswith(f"recipe-{recipe_tag()}"):  # the recipe below must be the one it trained with
        raise SystemExit(f"franka_distill_probe.py: {grid_dir} was trained under another task recipe than today's")
    trained_min = float(read_summary(source)["teacher_s"]) / 60
    if minutes <= trained_min:
        raise SystemExit(
            f"franka_distill_probe.py: --teacher-minutes {minutes:g} is not past the {trained_min:.1f} minutes the "
            "grid's teacher trained; ask for more, or 0 for the grid's teacher as it is"
        )
    run = Path("runs/franka_distill_probe") / grid_dir.name / f"teacher{minutes:g}m_s{seed}"
    if not (run / "teacher").exists():
        copy_teacher(source / "teacher", run / "teacher")
    recipe = recipe_for(ENV)
    train_teacher(
        ENV,
        run,
        preset="cpu",
        seed=seed,
        teacher_steps=BUDGET_STEP_CAP,  # the budget ends it, as in the grid
        resume=True,
        progress=False,
        loop_overrides=recipe.loop,
        budget_s=60.0 * minutes,
        teacher_overrides={"world_model": dict(recipe.world_model)} if recipe.world_model else None,
        teacher_env_kwargs=recipe.env,
    )
    return run


def dagger_run(base: Path, run: Path, teacher_dir: Path, steps: int, seed: int) -> None:
    """A DAgger round on the finished probe run ``base``: ``run`` holds its student and D plus ``steps`` env steps
    that this student drove.

    ``run`` starts as a copy of ``base``'s student (checkpoint, sampler state, clock) and of its teacher run
    ``teacher_dir`` (:func:`copy_teacher`: D hard-linked). ``base``'s student then drives the paired,
    train-randomised env with the task recipe's env settings, acting on pixels with its mode, while the teacher
    filters the same steps (:func:`~twist_agents.twist.pipeline.collect_dataset` with a ``driver``); the episodes join
    D, so the teacher's latents along the *student's* states become distillation targets. Those are where the
    student's read-out of the cube was worst (10-16 cm on its own held-out episodes against 6-7 cm on scripted
    pushes), and the teacher's history never visits them. ``teacher/DONE`` is written last: the teacher is not
    retrained, and a killed collection resumes (stored episodes count). The caller then distils on, resuming the
    copied student. ``base`` is not touched; resume ``base`` itself only after the round's collection is done (a
    resumed collection drives with ``base``'s student as it is then).
    """
    from twist_agents.data import EpisodeStore
    from twist_agents.runner.recipes import recipe_for
    from twist_agents.twist.agent import TwistAgent
    from twist_agents.twist.pipeline import collect_dataset

    if (run / "teacher" / "DONE").exists():
        return
    if not (base / "twist_agent.pt").exists():
        raise SystemExit(
            f"franka_distill_probe.py: {base} has no finished student to drive a DAgger round; run it first"
        )
    if not run.exists():
        partial = run.with_name(run.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        shutil.copytree(base / "student", partial / "student")
        for name in ("summary.json", "twist_agent.pt"):
            shutil.copy2(base / name, partial / name)
        copy_teacher(teacher_dir, partial / "teacher")
        partial.rename(run)
    driver = TwistAgent.from_checkpoint(base / "twist_agent.pt")
    collect_dataset(
        driver.teacher,
        ENV,
        run / "teacher" / "episodes",
        EpisodeStore(teacher_dir / "episodes").num_steps + steps,
        seed=seed + 100_000,  # reset seeds apart from the teacher's training and the evaluations
        env_kwargs=dict(recipe_for(ENV).env),
        progress=False,
        driver=driver,
    )
    (run / "teacher" / "DONE").write_text("teacher finished; D plus a DAgger round\n")


def held_terms(terms: Any, names: Any) -> tuple[Any, ...]:
    """``terms`` with those named in ``names`` drawn once per episode (``when="reset"``), the rest unchanged."""
    import dataclasses

    return tuple(dataclasses.replace(t, when="reset") if t.name in names else t for t in terms)


def d_looks(wide_textures: bool = False, bank: int = 32, collage: bool = False) -> dict[str, Any]:
    """The env settings a redrawn D's textures come from: ``train_textures=bank`` and, with ``wide_textures``, a
    texture source of :data:`~wrappers.textures.WIDE_TRAIN_FAMILIES`; with ``collage``, of
    :data:`~wrappers.textures.COLLAGE_TRAIN_FAMILIES` (those nine, and as many collages of them)."""
    from wrappers.textures import COLLAGE_TRAIN_FAMILIES, WIDE_TRAIN_FAMILIES, ProceduralTextures

    looks: dict[str, Any] = {"train_textures": bank}
    if collage:
        looks["texture_source"] = ProceduralTextures(train_families=COLLAGE_TRAIN_FAMILIES)
    elif wide_textures:
        looks["texture_source"] = ProceduralTextures(train_families=WIDE_TRAIN_FAMILIES)
    return looks


def rerendered_teacher(
    source: Path,
    run: Path,
    seed: int,
    camera_jitter: bool = False,
    wide_textures: bool = False,
    bank: int = 32,
    held_fraction: float = 0.0,
    collage: bool = False,
) -> Path:
    """A copy of the teacher run ``source`` whose dataset D is drawn again, by default without the camera jitter.

    Every episode of ``source/teacher/episodes`` keeps its states, actions and rewards; its images are drawn anew
    from the states (:meth:`~twist_envs.franka.sim.FrankaSimEnv.render_states`) with the train split of
    ``franka_terms(camera_jitter=camera_jitter)``: fresh appearances every step, the camera where it stands unless
    jittered. With ``wide_textures`` the env's textures come from
    :data:`~wrappers.textures.WIDE_TRAIN_FAMILIES` (nine training families, not four; the held-out ones unchanged),
    with ``collage`` from :data:`~wrappers.textures.COLLAGE_TRAIN_FAMILIES` (half of them collages of those nine);
    ``bank`` is how many training textures the env holds per bank (its ``train_textures``). ``held_fraction``: this
    share of the episodes (drawn by ``seed``) holds every appearance term for the episode, as the held-out trials
    and the real world do, instead of redrawing it every step (not in the paper).
    The teacher (trained on state, which neither setting touches) is the same; only what the student sees changes.
    ``run/teacher`` holds the checkpoints and config copied, the episodes written one by one (atomically: a killed
    copy resumes where it stopped) and ``DONE`` last. Returns ``run``.
    """
    import gymnasium as gym

    import twist_envs  # noqa: F401 - registers the ids
    from twist_agents.data.store import load_episode, save_episode
    from twist_envs.franka.sim import franka_terms

    done = run / "teacher" / "DONE"
    if done.exists():
        return run
    src = source / "teacher"
    dst = run / "teacher"
    (dst / "episodes").mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name not in ("episodes", "DONE") and not (dst / item.name).exists():
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, dst / item.name)
    if not (run / "summary.json").exists():
        shutil.copy2(source / "summary.json", run / "summary.json")
    extra = d_looks(wide_textures, bank, collage)
    terms = franka_terms(camera_jitter=camera_jitter)
    env = gym.make(ENV, obs_mode="paired", randomization="train", terms=terms, **extra)
    held_env = None
    if held_fraction > 0:
        all_held = held_terms(terms, {t.name for t in terms if t.when == "step"})
        held_env = gym.make(ENV, obs_mode="paired", randomization="train", terms=all_held, **extra)
    files = sorted((src / "episodes").glob("*.npz"))
    held = np.random.default_rng(seed + 7_000_000).random(len(files)) < held_fraction  # (N,): fixed, so resumable
    try:
        for i, f in enumerate(files):
            out = dst / "episodes" / f.name
            if out.exists():
                continue
            episode = load_episode(f)
            drawer = held_env if held_env is not None and held[i] else env
            episode["pixels"] = drawer.unwrapped.render_states(episode["state"], seed=seed * 1_000_000 + i)
            save_episode(out, episode)
    finally:
        env.close()
        if held_env is not None:
            held_env.close()
    how = ("with" if camera_jitter else "without") + " the camera jitter"
    how += ", collage textures" if collage else ", wide textures" if wide_textures else ""
    how += f", {bank} training textures per bank" + (f", {int(held.sum())} episodes held" if held_fraction else "")
    done.write_text(f"teacher of {source}; D drawn again {how}\n")
    return run


def heldout_success(agent: Any, split: str = "test", trials: int = TRIALS, **env_kwargs: Any) -> dict[str, Any]:
    """Success and return of ``agent`` (acting on pixels) on the held-out trials franka_twist.py uses
    (``split``: their appearances, ``"train"`` for D's; ``trials``: how many, reset seeds 50000 on;
    ``env_kwargs``: more settings of the env, e.g. its randomisation ``terms``)."""
    from franka_twist import EVAL_SEED

    from twist_agents.training.evaluate import evaluate, make_eval_env

    env = make_eval_env(ENV, ("pixels",), split=split, **env_kwargs)
    try:
        res = evaluate(agent, env, ("pixels",), episodes=trials, seed=EVAL_SEED, progress=False)
    finally:
        env.close()
    out: dict[str, Any] = {"success": float(np.mean(res.successes)), "mean_return": float(np.mean(res.returns))}
    if trials != TRIALS:  # the default's entries keep their two fields
        out.update(trials=trials, successes=[int(x) for x in res.successes])
    return out


class SwappedSplit:
    """A texture source that serves ``split`` with the default procedural textures of ``looks`` (the other split).

    ``looks_swapped`` uses it to separate the two ways the held-out trials differ from D: their texture *families*
    and how *often* the appearance changes (once per episode, not every step).
    """

    def __init__(self, looks: str) -> None:
        from wrappers.textures import ProceduralTextures

        self.looks, self.inner = looks, ProceduralTextures()

    def texture(self, split: str, index: int, size: tuple[int, int]) -> np.ndarray:
        """Texture ``index`` of :attr:`looks` (whatever ``split`` asks), ``(h, w, 3)`` uint8."""
        return self.inner.texture(self.looks, index, size)


def looks_swapped(agent: Any, **env_kwargs: Any) -> dict[str, dict[str, Any]]:
    """The held-out trials again with the two differences from D's appearances taken one at a time:

    * ``train_families_once_per_episode``: the ``test`` split's schedule (every term once per episode, at reset)
      with the training families' textures (the default families' first 12, the size of the held-out bank);
    * ``test_families_every_step``: the ``train`` split's schedule (appearance every step) with the held-out
      families' textures.

    Whichever of the two falls nearer the held-out trials is the difference that costs: the families for students
    of D's default textures, the appearance held for the episode for students of the nine families' 256 textures.
    ``env_kwargs``: more settings of the env (e.g. its randomisation ``terms``).
    """
    from twist_envs.franka.sim import franka_terms

    jitter = "terms" not in env_kwargs or any(t.name == "camera_pose" for t in env_kwargs["terms"])
    out = {}
    for name, split, looks in (
        ("train_families_once_per_episode", "test", "train"),
        ("test_families_every_step", "train", "test"),
    ):
        source = SwappedSplit(looks)
        kwargs = {**env_kwargs, "texture_source": source, "terms": franka_terms(source, camera_jitter=jitter)}
        out[name] = heldout_success(agent, split=split, **kwargs)
    return out


def held_parts(agent: Any, camera_jitter: bool, **looks: Any) -> dict[str, dict[str, Any]]:
    """The held-out trials' schedule taken apart on D's own appearances (the ``train`` split, reset seeds as
    :func:`heldout_success`): every part redrawn every step as in D (``own_every_step``), the textures held for the
    episode (``textures_held``: background, table and floor), the colours and the light held
    (``colours_light_held``), and everything held (``all_held``, the ``test`` split's schedule).

    ``looks``: the env settings D was drawn with (``texture_source``, ``train_textures``); ``camera_jitter``: whether
    D's terms jitter the camera.
    """
    from twist_envs.franka.sim import franka_terms

    terms = franka_terms(looks.get("texture_source"), camera_jitter=camera_jitter)
    per_step = {t.name for t in terms if t.when == "step"}
    textures = {"background", "floor_texture"}
    cases = {
        "own_every_step": set(),
        "textures_held": textures,
        "colours_light_held": per_step - textures,
        "all_held": per_step,
    }
    out = {}
    for name, held in cases.items():
        out[name] = heldout_success(agent, split="train", terms=held_terms(terms, held), **looks)
    return out


def head_dims(agent: Any) -> list[int] | None:
    """The state dimensions a TWIST student's ``state_aux`` head reads, in its output order; ``None`` without a head
    in data units (only those can be turned back into metres by the head's own standardiser)."""
    norm = agent.student.state_aux_norm
    if norm is None or agent.config.state_aux_units != "data":
        return None
    return list(agent.config.state_aux_dims) or list(range(norm.mean.shape[0]))


def aux_fit_on_d(agent: Any, episodes_dir: Path, episodes: int = 40) -> dict[str, Any] | None:
    """The ``state_aux`` head's read-out of the cube's and the tip's xy on D's own frames (what it was fit on).

    Beside the read-out of fresh episodes (``student_readout``'s ``student_aux``), a much smaller error here means
    the encoder memorises D's episodes instead of seeing the cube. ``episodes`` episodes of D drawn with a fixed
    seed; root-mean-square xy error in cm over all their frames and ``*_spread_cm``, the error of answering D's
    mean. ``None`` for a student without a head in data units.
    """
    import torch
    from franka_twist import readout_parts

    dims = head_dims(agent)
    if dims is None:
        return None
    norm = agent.student.state_aux_norm
    files = sorted(episodes_dir.glob("*.npz"))
    pick = np.random.default_rng(0).choice(len(files), min(episodes, len(files)), replace=False)
    true, read = [], []
    for i in sorted(pick):
        with np.load(files[i]) as ep:
            state = ep["state"]  # (T, D)
            with torch.no_grad():
                emb = agent.student.encoder({"pixels": torch.as_tensor(ep["pixels"])})  # (T, E)
                out = norm.inverse(agent.student.state_head(emb)).numpy()  # (T, len(dims))
        full = np.full(state.shape, np.nan, np.float32)
        full[:, dims] = out
        true.append(state)
        read.append(full)
    t, r = np.concatenate(true), np.concatenate(read)
    result: dict[str, Any] = {"episodes": len(pick), "frames": len(t)}
    for part, sl in readout_parts().items():
        if np.isnan(r[:, sl]).any():
            continue
        result[f"{part}_xy_error_cm"] = round(100 * float(np.sqrt(((r[:, sl] - t[:, sl]) ** 2).sum(1).mean())), 2)
        result[f"{part}_xy_spread_cm"] = round(
            100 * float(np.sqrt(((t[:, sl] - t[:, sl].mean(0)) ** 2).sum(1).mean())), 2
        )
    return result


class HeadCube:
    """The teacher on the true state, with the cube's position taken from a TWIST student's ``state_aux`` head.

    An Agent (``act(obs, state, explore)``) for a paired env: every step the student's encoder embeds the frame,
    its linear head reads the cube's position (in metres, through the head's data-unit standardiser), and that
    read-out replaces the state's ``block_pos`` before the teacher's world model filters it and its actor acts.
    The arm's state, the goal, and the cube's orientation and velocity stay true. So it asks: if the student's
    *latent* carried the cube exactly as well as its own encoder reads it from one frame (and the rest of the
    state were right), how often would the teacher's actor succeed? Near the students' own rate, the encoder's
    reading is the limit; near the teacher's, what the distillation loses between the encoder and the latent is.
    Measured (BlockPush, seeds 4 / 5, teachers at 80 minutes, a 10-minute ``readout_feed`` student on D drawn with
    nine families, 256 textures and no jitter, 100 held-out trials): 9/100 and 21/100 against 43/100 and 51/100 on
    the true state (16/100, 20/100 after 20 minutes, the students themselves 12/100 each); the head's error is
    mostly a per-episode bias (5.8-7.2 cm of 6.4-7.6). The reading, not only the latent, is the limit. With 20000
    read-out pretraining updates instead of 5000 (``-pre20k``) the bound rose to 20/100, 40/100; the error is
    largest near the goal, where a successful push ends (:data:`NEAR_GOAL`).

    With ``replace=False`` it is the teacher on the true state in the same env, the reference. Each step's read-out
    error is kept in :attr:`errors` (``(3,)`` metres, appended per step), the true cube's xy distance from the goal
    in :attr:`goal_dists` (metres, per step) and episodes split by :attr:`starts`.
    """

    def __init__(self, agent: Any, replace: bool = True) -> None:
        from twist_envs.franka.sim import STATE_SLICES

        dims = head_dims(agent)
        if dims is None:
            raise ValueError("HeadCube: the student has no state_aux head in data units")
        block = STATE_SLICES["block_pos"]
        if not set(range(block.start, block.stop)) <= set(dims):
            raise ValueError("HeadCube: the student's state_aux head does not read the cube's position")
        self.agent, self.replace = agent, replace
        self.block, self.goal = block, STATE_SLICES["goal_pos"]
        self.cols = [dims.index(i) for i in range(block.start, block.stop)]  # the head's outputs for block_pos
        self.errors: list[np.ndarray] = []
        self.goal_dists: list[float] = []
        self.starts: list[int] = []

    def act(self, obs: Any, state: Any, explore: bool) -> tuple[np.ndarray, Any]:
        """The teacher's action for ``obs`` (``{"state", "pixels"}``) with the cube read by the head."""
        import torch

        s = np.array(obs["state"], dtype=np.float32)  # (34,), a copy
        student = self.agent.student
        with torch.no_grad():
            emb = student.encoder({"pixels": torch.as_tensor(np.asarray(obs["pixels"])[None])})  # (1, E)
            read = student.state_aux_norm.inverse(student.state_head(emb))[0].numpy()  # (len(dims),)
        cube = read[self.cols].astype(np.float32)  # (3,) metres
        if state is None:
            self.starts.append(len(self.errors))
        self.errors.append(cube - s[self.block])
        self.goal_dists.append(float(np.hypot(*(s[self.block][:2] - s[self.goal][:2]))))
        if self.replace:
            s[self.block] = cube
        return self.agent.teacher.act({"state": s}, state, explore)


NEAR_GOAL = 0.06
"""Metres (xy) from the goal within which :func:`head_cube_success` counts a step as near it: BlockPush's success
radius (5 cm) and 1 cm more, where a push that succeeds ends and stays."""


def rms_cm(err: np.ndarray) -> float | None:
    """Root mean square of ``(n, 2)`` xy errors in metres, in cm (2 decimals); ``None`` for no rows."""
    return round(100 * float(np.sqrt((err**2).sum(1).mean())), 2) if len(err) else None


def head_cube_success(agent: Any, trials: int, split: str = "test", **env_kwargs: Any) -> dict[str, Any]:
    """:class:`HeadCube` on the held-out trials (``split``'s appearances, reset seeds 50000 on, the policy's mode).

    The teacher on the true state (``teacher_true_state``) and with the student head's cube
    (``teacher_cube_from_head``), in the same paired env, each with the head's xy error in cm over every step (root
    mean square) and its per-episode bias (root mean square over episodes of each episode's mean error vector; each
    episode's in ``head_cube_xy_bias_episodes_cm``), and the error split by where the true cube lies: within
    :data:`NEAR_GOAL` of the goal (``..._near_goal_cm``, the last steps of a push that succeeds) or farther
    (``..._away_cm``); ``near_goal_steps`` is the share of steps near it. ``env_kwargs``: more env settings."""
    from franka_twist import EVAL_SEED

    from twist_agents.training.evaluate import evaluate, make_eval_env

    out: dict[str, Any] = {"trials": trials, "split": split}
    for name, replace in (("teacher_true_state", False), ("teacher_cube_from_head", True)):
        policy = HeadCube(agent, replace=replace)
        env = make_eval_env(ENV, ("state", "pixels"), split=split, **env_kwargs)
        try:
            res = evaluate(policy, env, None, episodes=trials, seed=EVAL_SEED, progress=False)
        finally:
            env.close()
        err = np.stack(policy.errors)[:, :2]  # (steps, 2): xy, metres
        bias = np.stack([e.mean(0) for e in np.split(err, policy.starts[1:])])  # (episodes, 2)
        near = np.asarray(policy.goal_dists) < NEAR_GOAL  # (steps,)
        out[name] = {
            "success": float(np.mean(res.successes)),
            "mean_return": float(np.mean(res.returns)),
            "successes": [int(x) for x in res.successes],
            "head_cube_xy_error_cm": rms_cm(err),
            "head_cube_xy_bias_cm": round(100 * float(np.sqrt((bias**2).sum(1).mean())), 2),
            "head_cube_xy_bias_episodes_cm": [round(100 * float(b), 1) for b in np.hypot(bias[:, 0], bias[:, 1])],
            "head_cube_xy_error_near_goal_cm": rms_cm(err[near]),
            "head_cube_xy_error_away_cm": rms_cm(err[~near]),
            "near_goal_steps": round(float(near.mean()), 3),
        }
    return out


DEPLOY_KEYS = ("agent", "env_id", "preset", "seed", "max_episode_steps", "task_recipe", "train_randomization")
"""What :func:`make_deployable` takes from the grid run's ``run.json``: what ``twist eval`` reads to deploy."""


def make_deployable(run_dir: Path, source: Path, entry: str) -> None:
    """Give the probe's ``run_dir`` a ``run.json`` (the grid run ``source``'s :data:`DEPLOY_KEYS`), so that its
    ``twist_agent.pt`` deploys as any twist run does: ``twist eval RUN_DIR --env TWIST/BlockPush-Real-v0
    --env-kwargs robot=sim,camera=sim``. The student artefact carries its own distillation config; ``run.json``
    names the agent, the env it was trained for, its seed, and (``written_by``) the probe entry that says how its D
    was drawn (an entry name with ``_nocam`` had no camera pose jitter in D, whatever ``train_randomization`` says
    of the teacher's training)."""
    from twist_agents.runner.runs import RUN_CONFIG, read_run_config

    cfg = {k: v for k, v in read_run_config(source).items() if k in DEPLOY_KEYS}
    cfg.update(run_dir=str(run_dir), input_keys=["pixels"], written_by=f"franka_distill_probe.py entry {entry}")
    (run_dir / RUN_CONFIG).write_text(json.dumps(cfg, indent=2))


def write_entry(out: Path, key: str, entry: dict[str, Any], merge: bool = False) -> None:
    """Write ``entry`` as ``runs[key]`` of ``out`` (``merge``: into the existing entry), one writer at a time."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:  # two seeds finishing together: one writer at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = json.loads(out.read_text()) if out.exists() else {"note": __doc__.split("\n\n")[0], "runs": {}}
        doc["runs"][key] = {**doc["runs"].get(key, {}), **entry} if merge else entry
        out.write_text(json.dumps(doc, indent=1))


def real_path_entry(run_dir: Path, trials: int) -> dict[str, Any]:
    """The student through ``TWIST/BlockPush-Real-v0`` with the sim twins, ``trials`` episodes each: with the
    paper's real-run camera pose and brightness randomisation (``real_path``, the issue's condition) and with the
    canonical view (``real_path_canonical_view``), which separates the view jitter from the rest of the path. Each
    result is cached in ``run_dir/eval`` under the student's distillation update count, so a student resumed to a
    larger budget is run again."""
    from franka_twist import REAL_SIM_KWARGS, real_path_success

    from twist_agents.twist.pipeline import read_summary

    updates = read_summary(run_dir).get("distill_updates_done")
    out: dict[str, Any] = {}
    for key, kwargs in (
        ("real_path", REAL_SIM_KWARGS),
        ("real_path_canonical_view", f"{REAL_SIM_KWARGS},view_randomization=false"),
    ):
        res = real_path_success(run_dir, ENV, trials, env_kwargs=kwargs, cache=f"probe_{key}_{trials}_u{updates}")
        out[key] = {
            "env_kwargs": kwargs,
            "trials": trials,
            "success": float(np.mean(res["success"])),
            "mean_return": float(np.mean(res["returns"])),
            "aborted_trials": len(res["aborted"]),
            "wall_s": round(float(res["wall_s"]), 1),
        }
    return out


def main() -> None:
    """Distil (resuming), evaluate the new and the grid's student, write the entry."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="state-aux", help=f"one of {list(VARIANTS)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget-minutes", type=float, default=20.0, help="distillation wall clock")
    p.add_argument("--runs-dir", type=Path, default=None, help="franka_twist.py's runs dir (default: its default)")
    p.add_argument(
        "--teacher-minutes",
        type=float,
        default=0.0,
        help="first train a copy of the grid's teacher on to this many minutes of training clock "
        "(continued_teacher), and distil from it; 0: the grid's teacher as it is",
    )
    p.add_argument(
        "--dagger-steps",
        type=int,
        default=0,
        help="a DAgger round (dagger_run): the finished run of this variant (and --teacher-minutes) drives this many "
        "env steps into a copy of D, and its student distils on to --budget-minutes in total; 0: none",
    )
    p.add_argument(
        "--no-camera-jitter",
        action="store_true",
        help="distil on D drawn again without the camera pose jitter (rerendered_teacher) and evaluate without it as "
        "well as with it; the entry's name gains _nocam",
    )
    p.add_argument(
        "--wide-textures",
        action="store_true",
        help="distil on D drawn again with textures of wrappers.textures.WIDE_TRAIN_FAMILIES (nine training "
        "families, not four; rerendered_teacher); held-out trials unchanged; the entry's name gains _wide",
    )
    p.add_argument(
        "--collage-textures",
        action="store_true",
        help="distil on D drawn again with the nine wide families and as many collages of them (wrappers.textures."
        "COLLAGE_TRAIN_FAMILIES; rerendered_teacher); held-out trials unchanged; the entry's name gains _collage",
    )
    p.add_argument(
        "--bank",
        type=int,
        default=32,
        help="distil on D drawn again with this many training textures per bank (FrankaSimEnv train_textures; "
        "rerendered_teacher); held-out trials unchanged; other than 32, the entry's name gains _bank<N>",
    )
    p.add_argument(
        "--held-fraction",
        type=float,
        default=0.0,
        help="distil on D drawn again with this share of its episodes holding every appearance for the episode "
        "(rerendered_teacher; not in the paper); the entry's name gains _held<F>",
    )
    p.add_argument(
        "--heldout-trials",
        type=int,
        default=TRIALS,
        help=f"above {TRIALS}: the entry gains heldout_more, the held-out trials with this many reset seeds "
        f"(50000 on; the first {TRIALS} are heldout's)",
    )
    p.add_argument(
        "--head-cube",
        action="store_true",
        help="the entry gains head_cube (head_cube_success): on the --heldout-trials held-out trials, the teacher on "
        "the true state beside the teacher with the cube's position read by the student's state_aux head",
    )
    p.add_argument(
        "--brief",
        action="store_true",
        help="skip looks_swapped and held_parts (120 of the evaluation's episodes) when time is short",
    )
    p.add_argument(
        "--real-path-only",
        action="store_true",
        help="no training or sim evaluation: run the finished student of this entry through TWIST/BlockPush-Real-v0 "
        "with the sim twins (real_path_entry, --heldout-trials episodes each) and add that to its entry",
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args()
    if a.variant not in VARIANTS:
        raise SystemExit(f"franka_distill_probe.py: unknown variant {a.variant!r}; choose one of {list(VARIANTS)}")
    if a.bank < 1:
        raise SystemExit(f"franka_distill_probe.py: --bank must be >= 1 (default 32), got {a.bank}")
    if a.heldout_trials < TRIALS:
        raise SystemExit(f"franka_distill_probe.py: --heldout-trials must be >= {TRIALS}, got {a.heldout_trials}")
    if not 0.0 <= a.held_fraction <= 1.0:
        raise SystemExit(f"franka_distill_probe.py: --held-fraction must be in [0, 1], got {a.held_fraction}")
    redraw = a.no_camera_jitter or a.wide_textures or a.collage_textures or a.bank != 32 or a.held_fraction > 0
    if a.real_path_only and a.dagger_steps:
        raise SystemExit("franka_distill_probe.py: --real-path-only does not take --dagger-steps")
    if redraw and a.dagger_steps:
        raise SystemExit(
            "franka_distill_probe.py: --dagger-steps does not combine with --no-camera-jitter, --wide-textures, "
            "--collage-textures, --bank or --held-fraction; choose one"
        )
    if not a.budget_minutes > 0 or not a.teacher_minutes >= 0 or a.dagger_steps < 0:
        raise SystemExit(
            "franka_distill_probe.py: --budget-minutes must be positive, --teacher-minutes and --dagger-steps >= 0"
        )
    os.environ.setdefault("MUJOCO_GL", "egl")
    import torch
    from franka_twist import default_runs_dir, student_readout, teacher_state_success

    from twist_agents.data import EpisodeStore
    from twist_agents.runner.request import BUDGET_STEP_CAP
    from twist_agents.runner.runs import load_run_agent
    from twist_agents.twist.pipeline import read_summary, train_twist, write_summary

    torch.set_num_threads(1)
    source = grid_run(a.runs_dir or default_runs_dir(), a.seed)
    name = f"{a.variant}_teacher{a.teacher_minutes:g}m" if a.teacher_minutes else a.variant
    teacher_run = continued_teacher(source, a.teacher_minutes, a.seed) if a.teacher_minutes else source
    eval_kwargs: dict[str, Any] = {}
    if redraw:
        from twist_envs.franka.sim import franka_terms

        suffix = "_nocam" if a.no_camera_jitter else ""
        suffix += "_collage" if a.collage_textures else "_wide" if a.wide_textures else ""
        suffix += f"_bank{a.bank}" if a.bank != 32 else ""
        suffix += f"_held{a.held_fraction:g}" if a.held_fraction > 0 else ""
        name += suffix
        copy_name = f"teacher{a.teacher_minutes:g}m" if a.teacher_minutes else "grid"
        copy = Path("runs/franka_distill_probe") / source.parents[3].name / f"{copy_name}{suffix}_s{a.seed}"
        teacher_run = rerendered_teacher(
            teacher_run,
            copy,
            a.seed,
            camera_jitter=not a.no_camera_jitter,
            wide_textures=a.wide_textures,
            bank=a.bank,
            held_fraction=a.held_fraction,
            collage=a.collage_textures,
        )
        # Held-out trials are the same either way (the test families do not change); ``train_looks`` keeps the
        # four default families' first 32 textures (the default D's own; for a wide or larger bank, other textures of
        # families D saw).
        eval_kwargs = {"terms": franka_terms(camera_jitter=not a.no_camera_jitter)}
    run_dir = Path("runs/franka_distill_probe") / source.parents[3].name / f"{name}_s{a.seed}"
    if a.dagger_steps:
        base, name = run_dir, f"{name}_dagger{a.dagger_steps}"
        run_dir = run_dir.with_name(f"{name}_s{a.seed}")
        dagger_run(base, run_dir, (base / "teacher").resolve(), a.dagger_steps, a.seed)
    if a.real_path_only:
        key = f"{name}_seed{a.seed}"
        done = (run_dir / "twist_agent.pt").exists() and a.out.exists()
        if not done or key not in json.loads(a.out.read_text())["runs"]:
            raise SystemExit(f"franka_distill_probe.py: no finished entry {key}; run it without --real-path-only first")
        make_deployable(run_dir, source, key)
        write_entry(a.out, key, real_path_entry(run_dir, a.heldout_trials), merge=True)
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "teacher").exists():
        (run_dir / "teacher").symlink_to((teacher_run / "teacher").resolve(), target_is_directory=True)
    teacher_keys = ("teacher_s", "teacher_eval_s", "teacher_env_steps", "teacher_budget_s")
    if "teacher_s" not in read_summary(run_dir):  # the teacher's clock, so the budget below is distillation's
        write_summary(run_dir, {k: v for k, v in read_summary(teacher_run).items() if k in teacher_keys})
    teacher_s = float(read_summary(run_dir)["teacher_s"])
    t0 = time.time()
    agent = train_twist(
        ENV,
        run_dir=run_dir,
        preset="cpu",
        seed=a.seed,
        distill_updates=BUDGET_STEP_CAP,  # the budget ends distillation, as in the grid
        resume=True,
        progress=False,
        distill_overrides=VARIANTS[a.variant],
        budget_s=teacher_s + 60.0 * a.budget_minutes,
    )
    distill_wall_s = time.time() - t0
    summary = read_summary(run_dir)
    t1 = time.time()
    # Beside a student of the grid's teacher, the grid's own student; beside one of a teacher trained on, that
    # teacher (the grid's student copies another teacher).
    grid_agent = None if a.teacher_minutes else load_run_agent(source)[0]
    entry = {
        "command": f"benchmarks/franka_distill_probe.py --variant {a.variant} --seed {a.seed} "
        f"--budget-minutes {a.budget_minutes:g}"
        + (f" --teacher-minutes {a.teacher_minutes:g}" if a.teacher_minutes else "")
        + (f" --dagger-steps {a.dagger_steps}" if a.dagger_steps else "")
        + (" --no-camera-jitter" if a.no_camera_jitter else "")
        + (" --wide-textures" if a.wide_textures else "")
        + (" --collage-textures" if a.collage_textures else "")
        + (f" --bank {a.bank}" if a.bank != 32 else "")
        + (f" --held-fraction {a.held_fraction:g}" if a.held_fraction > 0 else "")
        + (f" --heldout-trials {a.heldout_trials}" if a.heldout_trials > TRIALS else "")
        + (" --head-cube" if a.head_cube else "")
        + (" --brief" if a.brief else ""),
        "source_run": str(source),
        "teacher_run": str(teacher_run),
        "teacher_env_steps": read_summary(teacher_run).get("teacher_env_steps"),
        "teacher_s": read_summary(teacher_run).get("teacher_s"),
        "distill_overrides": VARIANTS[a.variant],
        "dagger_steps": a.dagger_steps,
        "d_episodes": len(EpisodeStore(run_dir / "teacher" / "episodes")),
        "distill_s": summary.get("distill_s"),
        "distill_updates": summary.get("distill_updates_done"),
        "readout_pretrain_done": summary.get("readout_pretrain_done"),
        "readout_pretrain_final_loss": summary.get("readout_pretrain_final_loss"),
        "camera_jitter": not a.no_camera_jitter,
        "train_families": "collage" if a.collage_textures else "wide" if a.wide_textures else "default",
        "train_textures": a.bank,
        "held_fraction": a.held_fraction,
        "heldout": heldout_success(agent, **eval_kwargs),
        # The same trials on the training appearances: what the student does where its read-out was fitted
        # separates distillation from generalisation to unseen looks.
        "train_looks": heldout_success(agent, split="train", **eval_kwargs),
        "looks_swapped": None if a.brief else looks_swapped(agent, **eval_kwargs),
        "held_parts": None
        if a.brief
        else held_parts(agent, not a.no_camera_jitter, **d_looks(a.wide_textures, a.bank, a.collage_textures)),
        "readout": student_readout(agent, ENV, **eval_kwargs),
        "aux_fit_on_d": aux_fit_on_d(agent, run_dir / "teacher" / "episodes"),
    }
    if grid_agent is None:
        teacher = teacher_state_success(agent.teacher, ENV, TRIALS)
        entry["teacher_state"] = {
            "success": float(np.mean(teacher["success"])),
            "mean_return": float(np.mean(teacher["returns"])),
            "over_reflex": teacher["over_reflex"],
        }
        if a.heldout_trials > TRIALS:  # the student's ceiling, on as many trials as heldout_more
            more = teacher_state_success(agent.teacher, ENV, a.heldout_trials)
            entry["teacher_state_more"] = {
                "trials": a.heldout_trials,
                "success": float(np.mean(more["success"])),
                "mean_return": float(np.mean(more["returns"])),
            }
    else:
        entry.update(
            grid_student_distill_s=read_summary(source).get("distill_s"),
            grid_student_updates=read_summary(source).get("distill_updates_done"),
            grid_student_heldout=heldout_success(grid_agent),
            grid_student_readout=student_readout(grid_agent, ENV),
        )
    if a.heldout_trials > TRIALS:  # the target metric with a tighter interval; the first 20 repeat ``heldout``
        entry["heldout_more"] = heldout_success(agent, trials=a.heldout_trials, **eval_kwargs)
    if a.head_cube:  # the student's encoder reading the cube for the teacher: the latent's loss, bounded
        entry["head_cube"] = head_cube_success(agent, a.heldout_trials, **eval_kwargs)
    if a.no_camera_jitter:  # the same trials with the camera jitter the student never saw
        entry["heldout_camera_jitter"] = heldout_success(agent)
    entry.update(
        this_call_distill_wall_s=round(distill_wall_s, 1),
        eval_wall_s=round(time.time() - t1, 1),
        loadavg=os.getloadavg(),
    )
    write_entry(a.out, f"{name}_seed{a.seed}", entry)
    print(
        json.dumps({k: entry.get(k) for k in ("distill_updates", "heldout", "grid_student_heldout", "teacher_state")})
    )


if __name__ == "__main__":
    main()
