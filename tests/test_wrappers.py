"""The reusable wrappers on environments that are not ours (Gymnasium MuJoCo, dm_control) and texture sources."""

import gymnasium as gym
import numpy as np
import pytest

from wrappers import (
    DomainRandomization,
    FolderTextures,
    PrivilegedObservation,
    ProceduralTextures,
    Term,
    background,
    camera_pose,
    default_appearance_terms,
    friction,
    light_brightness,
    material_colors,
    scene_of,
)


def cheetah(**kw):
    return gym.make("HalfCheetah-v5", render_mode="rgb_array", width=64, height=64, **kw)


def test_halfcheetah_paired_and_randomised_every_step_with_unchanged_dynamics():
    dr = PrivilegedObservation(DomainRandomization(cheetah(), default_appearance_terms(), split="train"))
    plain = PrivilegedObservation(cheetah())
    od, _ = dr.reset(seed=0)
    op, _ = plain.reset(seed=0)
    assert np.array_equal(od["state"], op["state"])
    prev = od["pixels"]
    act = np.full(dr.action_space.shape, 0.5, np.float32)
    for _ in range(5):
        od, rd, *_ = dr.step(act)
        op, rp, *_ = plain.step(act)
        np.testing.assert_array_equal(od["state"], op["state"])
        assert rd == rp
        assert not np.array_equal(od["pixels"], prev)
        prev = od["pixels"]
    dr.close(), plain.close()


def test_halfcheetah_test_split_is_fixed_within_episode_and_seeded():
    env = PrivilegedObservation(DomainRandomization(cheetah(), [background(), material_colors()], split="test"))
    o0, _ = env.reset(seed=5)
    o1, *_ = env.step(np.zeros(env.action_space.shape, np.float32))
    sky = scene_of(env).skybox_texture()
    m = scene_of(env).model
    adr = m.tex_adr[sky]
    before = m.tex_data[adr : adr + 300].copy()
    env.step(np.zeros(env.action_space.shape, np.float32))
    assert np.array_equal(before, m.tex_data[adr : adr + 300])  # test split: nothing changes mid-episode
    again = PrivilegedObservation(DomainRandomization(cheetah(), [background(), material_colors()], split="test"))
    a0, _ = again.reset(seed=5)
    assert np.array_equal(a0["pixels"], o0["pixels"])
    env.close(), again.close()


def test_dm_control_environment_is_supported():
    from dm_control import suite

    dm = suite.load("cartpole", "balance", task_kwargs={"random": 0})
    scene = scene_of(dm)
    rng = np.random.default_rng(0)
    light_brightness().apply(scene, rng, "train")
    camera_pose(pos_std=0.1).apply(scene, rng, "train")
    assert not np.allclose(scene.model.cam_pos[0], scene.default("cam_pos")[0])


def test_physics_terms_change_physics_and_are_marked():
    env = cheetah()
    env.reset(seed=0)
    scene = scene_of(env)
    term = friction(["ffoot"], scale=(2.0, 2.0))
    assert not term.appearance
    term.apply(scene, np.random.default_rng(0), "train")
    gid = scene.ids(__import__("mujoco").mjtObj.mjOBJ_GEOM, ["ffoot"])[0]
    assert scene.model.geom_friction[gid, 0] == pytest.approx(2 * scene.default("geom_friction")[gid, 0])
    env.close()


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="split"):
        ProceduralTextures().texture("val", 0, (8, 8))
    with pytest.raises(ValueError, match="both"):
        ProceduralTextures(train_families=("checker",), test_families=("checker",))
    with pytest.raises(ValueError, match="when"):
        Term("x", lambda *a, **k: None, when="sometimes")
    with pytest.raises(ValueError, match="randomization"):
        DomainRandomization(cheetah(), [], split="val")
    with pytest.raises(TypeError, match="MuJoCo"):
        DomainRandomization(gym.make("CartPole-v1"), [background()])
    with pytest.raises(ValueError, match="obs_mode"):
        PrivilegedObservation(cheetah(), obs_mode="rgb")
    with pytest.raises(ValueError, match="no geom named"):
        friction(["nope"]).apply(scene_of(cheetah()), np.random.default_rng(0), "train")


def test_procedural_families_are_disjoint_deterministic_and_distinct():
    src = ProceduralTextures()
    assert set(src.families("train")).isdisjoint(src.families("test"))
    a, b = src.texture("train", 3, (32, 32)), src.texture("train", 3, (32, 32))
    assert np.array_equal(a, b)
    train = {src.texture("train", i, (32, 32)).tobytes() for i in range(40)}
    test = {src.texture("test", i, (32, 32)).tobytes() for i in range(40)}
    assert len(train) == 40 and len(test) == 40 and train.isdisjoint(test)


def test_wide_training_families_are_disjoint_from_the_held_out_ones_and_each_draws_its_own_kind():
    from wrappers.textures import FAMILIES, TEST_FAMILIES, TRAIN_FAMILIES, WIDE_TRAIN_FAMILIES

    wide = ProceduralTextures(train_families=WIDE_TRAIN_FAMILIES)
    assert set(TRAIN_FAMILIES) < set(WIDE_TRAIN_FAMILIES) and set(WIDE_TRAIN_FAMILIES).isdisjoint(TEST_FAMILIES)
    assert wide.families("test") == TEST_FAMILIES
    assert [wide.family_of("train", i) for i in range(9)] == list(WIDE_TRAIN_FAMILIES)
    for name in WIDE_TRAIN_FAMILIES[len(TRAIN_FAMILIES) :]:
        img = FAMILIES[name](np.random.default_rng(0), 24, 40)
        assert img.shape == (24, 40, 3) and 0.0 <= img.min() and img.max() <= 1.0
        assert img.std() > 0.01  # not a flat colour
    # The ramp has no edge (no jump between neighbouring pixels); the speckle is nearly all edges.
    ramps = [FAMILIES["gradient"](np.random.default_rng(s), 64, 64) for s in range(8)]
    specks = [FAMILIES["speckle"](np.random.default_rng(s), 64, 64) for s in range(8)]
    assert max(np.abs(np.diff(r, axis=a)).max() for r in ramps for a in (0, 1)) < 0.1
    assert np.mean([np.abs(np.diff(x, axis=1)).mean() for x in specks]) > 5 * np.mean(
        [np.abs(np.diff(r, axis=1)).mean() for r in ramps]
    )
    # The held-out bank is the same whichever training families are chosen.
    assert np.array_equal(wide.texture("test", 5, (16, 16)), ProceduralTextures().texture("test", 5, (16, 16)))


def test_collage_textures_cut_two_training_textures_along_a_third_and_fill_half_the_bank(monkeypatch):
    from wrappers.textures import COLLAGE_TRAIN_FAMILIES, FAMILIES, TEST_FAMILIES, WIDE_TRAIN_FAMILIES

    src = ProceduralTextures(train_families=COLLAGE_TRAIN_FAMILIES)
    assert set(COLLAGE_TRAIN_FAMILIES) == {*WIDE_TRAIN_FAMILIES, "collage"}
    assert set(COLLAGE_TRAIN_FAMILIES).isdisjoint(TEST_FAMILIES) and src.families("test") == TEST_FAMILIES
    assert sum(src.family_of("train", i) == "collage" for i in range(180)) == 90
    real = [FAMILIES["collage"](np.random.default_rng(s), 32, 32) for s in (0, 0, 1)]
    assert real[0].shape == (32, 32, 3) and 0.0 <= real[0].min() and real[0].max() <= 1.0
    assert np.array_equal(real[0], real[1]) and not np.array_equal(real[0], real[2])
    # Each training family replaced by its own level plus a faint left-to-right ramp: the third texture's median
    # split is then the image's left and right halves, and each half shows exactly one of two other families.
    for i, name in enumerate(WIDE_TRAIN_FAMILIES):
        level = np.full((16, 16, 3), 0.1 + 0.08 * i) + 0.001 * np.arange(16)[None, :, None]
        monkeypatch.setitem(FAMILIES, name, lambda rng, h, w, img=level: img.copy())
    for seed in range(5):
        img = FAMILIES["collage"](np.random.default_rng(seed), 16, 16)
        left, right = ((np.round((img[:, half, 0] - 0.1) / 0.08)).astype(int) for half in (slice(0, 8), slice(8, 16)))
        assert len(set(left.ravel())) == 1 and len(set(right.ravel())) == 1 and left[0, 0] != right[0, 0]


def test_folder_textures_split_by_video_and_read_images(tmp_path):
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    for v in range(6):  # DAVIS layout: one folder of frames per video
        d = tmp_path / f"video{v}"
        d.mkdir()
        for f in range(3):
            iio.imwrite(d / f"{f:05d}.jpg", rng.integers(0, 255, (20, 30, 3), dtype=np.uint8))
    src = FolderTextures(tmp_path, test_fraction=0.34)
    train, test = set(src.items("train")), set(src.items("test"))
    assert train and test and train.isdisjoint(test) and len(train | test) == 6
    img = src.texture("test", 4, (16, 16))
    assert img.shape == (16, 16, 3) and img.dtype == np.uint8
    with pytest.raises(FileNotFoundError):
        FolderTextures(tmp_path / "missing")


def test_folder_textures_feed_a_distracting_env(tmp_path):
    import imageio.v3 as iio

    for i in range(4):
        iio.imwrite(tmp_path / f"img{i}.png", np.full((16, 16, 3), 60 * i, np.uint8))
    import twist_envs  # noqa: F401  (registers the ids; the test must not rely on another test's import)

    env = gym.make("TWIST/CartpoleBalance-Distracting-v0", texture_source=str(tmp_path))
    obs, _ = env.reset(seed=0)
    assert obs["pixels"].shape == (64, 64, 3)
    env.close()


def test_domain_randomization_writes_nothing_onto_the_env_and_captures_defaults_once():
    env = cheetah()
    before = set(vars(env.unwrapped))
    inner = DomainRandomization(env, [light_brightness(scale=(2.0, 2.0), headlight=False)], split="train")
    outer = DomainRandomization(inner, [material_colors()], split="train")
    assert set(vars(env.unwrapped)) == before  # no attribute added to someone else's env
    assert inner.scene is outer.scene is scene_of(env)  # one scene per env, looked up, not stored on it
    compiled = inner.scene.model.light_diffuse.copy()
    outer.reset(seed=0)
    outer.reset(seed=1)  # scaled from the compiled values every time, never from the last scaled ones
    np.testing.assert_allclose(inner.scene.model.light_diffuse, np.clip(compiled * 2.0, 0, 1))
    outer.close()
