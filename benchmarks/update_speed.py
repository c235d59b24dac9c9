"""Update speed: world-model, full-agent and distillation updates of this tree against a baseline commit, ABAB.

    MUJOCO_GL=egl .venv/bin/python benchmarks/update_speed.py [--baseline 9eb6e52] [--threads 1,2] [--reps 5]

Sizes: the ``cpu`` preset and an *XS-equivalent*: the project's world model configured to the size of
sheeprl 0.8.4's DreamerV3 ``XS`` preset (CNN depth 24, deter 256, hidden 256, 32 x 32 stochastic, 1 x 256
heads, actor and critic, 255 bins; 7,537,971 world-model parameters with a 1-dim action). Batch: B16 x T64 of
random data, 64 x 64 pixels, 5-dim state, 1-dim action. Variants: the state Oracle (encode/decode ``state``),
the pixel Dreamer (``pixels``) and TWIST's distillation (state teacher, pixel student; the ``cpu`` / ``paper``
distillation presets' batch, imagination from every start at XS).

Parts, one update each, on one fixed batch:

- ``wm``: world-model loss, backward, gradient clip, Adam step;
- ``full``: ``DreamerAgent.update`` (world model, imagination, actor, critic);
- ``distill``: ``TwistAgent.update`` (Eq. 3 + Eq. 4 and the student's Adam step).

How: the baseline's ``twist_agents`` is extracted with ``git archive`` into a temporary directory under another
package name, and a baseline and a current agent with the same weights run *alternately in one process*
(A B A B ..., after warm-ups), so load changes on a shared machine hit both alike. Every cell runs in a fresh
process twice: with the library's default allocator tuning (the current code applies it when it builds a world
model, so both code paths get it: the code's own speed-up) and with ``TWIST_TUNE_MALLOC=0`` (glibc defaults for
both: the baseline as it shipped). Recorded per part: medians of CPU time (``time.process_time``; with 1 thread
the number to compare on a loaded machine) and wall time (what a user waits; with 2 threads it depends on
the second core being free), the process's peak RSS and the load average before and after.

Writes ``benchmarks/results/update_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_BASELINE = "9eb6e52"
"""The last commit before the update-speed work (issue 16)."""
BASE_PACKAGE = "twist_baseline"
SHAPES = {"state": (5,), "pixels": (64, 64, 3)}
CELLS = {
    # (size, variant): parts
    ("cpu", "state"): ("wm", "full"),
    ("cpu", "pixels"): ("wm", "full"),
    ("cpu", "twist"): ("distill",),
    ("xs", "state"): ("wm", "full"),
    ("xs", "pixels"): ("wm", "full"),
    ("xs", "twist"): ("distill",),
}


# ---------------------------------------------------------------------------------------------- configs
def dreamer_cfg(pkg: Any, size: str, keys: tuple[str, ...]) -> Any:
    """The ``cpu`` preset or the XS-equivalent, built from package ``pkg``'s own config classes."""
    dreamer = pkg.dreamer
    if size == "cpu":
        return dreamer.dreamer_config("cpu", encode=keys, decode=keys)
    wm = dreamer.WorldModelConfig(
        encode=keys,
        decode=keys,
        rssm=dreamer.RSSMConfig(deter=256, stoch=32, classes=32, hidden=256),
        encoder=dreamer.EncoderConfig(mlp_layers=1, mlp_units=256, cnn_depth=24),
        decoder=dreamer.DecoderConfig(mlp_layers=1, mlp_units=256, cnn_depth=24),
        reward_head=dreamer.HeadConfig(layers=1, units=256, bins=255),
        cont_head=dreamer.HeadConfig(layers=1, units=256),
    )
    beh = dreamer.BehaviorConfig(actor_layers=1, actor_units=256, critic_layers=1, critic_units=256, bins=255)
    return dreamer.DreamerConfig(world_model=wm, behavior=beh, preset="xs")


def distill_cfg(pkg: Any, size: str) -> Any:
    """Distillation settings: the ``cpu`` preset, or the ``paper`` preset (B16 x L50, all starts) at XS."""
    return pkg.twist.distill_config("cpu" if size == "cpu" else "paper")


def random_batch(b: int, t: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``(B, T, ...)`` random sequences with an episode start at t = 0 and one inside row 0."""
    rng = np.random.default_rng(seed)
    is_first = np.zeros((b, t), bool)
    is_first[:, 0] = True
    is_first[0, t // 2] = True
    return {
        "state": rng.normal(size=(b, t, 5)).astype(np.float32),
        "pixels": rng.integers(0, 256, (b, t, 64, 64, 3), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (b, t, 1)).astype(np.float32),
        "reward": rng.normal(size=(b, t)).astype(np.float32),
        "is_first": is_first,
        "is_last": np.zeros((b, t), bool),
        "is_terminal": np.zeros((b, t), bool),
    }


# ---------------------------------------------------------------------------------------------- baseline
def extract_baseline(commit: str, into: Path) -> str:
    """``git archive`` the commit's ``twist_agents`` into ``into/<BASE_PACKAGE>``; returns the full commit hash."""
    full = subprocess.run(["git", "rev-parse", commit], cwd=ROOT, capture_output=True, text=True, check=True)
    archive = subprocess.run(["git", "archive", commit, "twist_agents"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    (into / "twist_agents").rename(into / BASE_PACKAGE)
    for path in (into / BASE_PACKAGE).rglob("*.py"):
        path.write_text(path.read_text().replace("twist_agents", BASE_PACKAGE))
    return full.stdout.strip()


# ---------------------------------------------------------------------------------------------- one cell
def build(pkg: Any, size: str, variant: str, seed: int = 0) -> tuple[Any, Any]:
    """An agent of package ``pkg`` and its batch, for ``variant`` in ``state``, ``pixels``, ``twist``."""
    import gymnasium as gym

    action = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    if variant != "twist":
        agent = pkg.dreamer.DreamerAgent(dreamer_cfg(pkg, size, (variant,)), SHAPES, action, seed=seed)
        return agent, random_batch(16, 64)
    teacher = pkg.dreamer.DreamerAgent(dreamer_cfg(pkg, size, ("state",)), SHAPES, action, seed=seed)
    cfg = distill_cfg(pkg, size)
    agent = pkg.twist.TwistAgent(teacher, {"pixels": SHAPES["pixels"]}, cfg, seed=seed)
    return agent, random_batch(cfg.batch_size, cfg.seq_len)


def copy_weights(src: Any, dst: Any) -> None:
    """Give ``dst`` (baseline) the weights of ``src`` (current), so both compute on the same numbers."""
    if hasattr(src, "student"):
        dst.student.load_state_dict(src.student.state_dict())
        src, dst = src.teacher, dst.teacher
    dst.world_model.load_state_dict(src.world_model.state_dict())
    dst.behavior.load_state_dict(src.behavior.state_dict())


def update_fn(agent: Any, part: str, batch: dict[str, np.ndarray]) -> Callable[[], object]:
    """One update of ``part`` as a no-argument function."""
    import torch

    if part != "wm":
        return lambda: agent.update(batch)
    wm = agent.world_model
    tb = wm.to_torch({k: batch[k] for k in agent.batch_keys})
    clip = agent.config.world_model.grad_clip

    def step() -> None:
        loss, _, _ = wm.loss(tb)
        agent.wm_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(wm.parameters(), clip)
        agent.wm_opt.step()

    return step


def abab(fns: dict[str, Callable[[], object]], reps: int, warmup: int) -> dict[str, dict[str, Any]]:
    """Alternate the functions ``reps`` times after ``warmup`` calls each; CPU and wall seconds per call."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    wall: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    return {
        k: {
            "cpu_ms": round(1000 * statistics.median(cpu[k]), 1),
            "wall_ms": round(1000 * statistics.median(wall[k]), 1),
            "cpu_ms_all": [round(1000 * x, 1) for x in cpu[k]],
            "wall_ms_all": [round(1000 * x, 1) for x in wall[k]],
        }
        for k in fns
    }


def run_cell(args: argparse.Namespace) -> dict[str, Any]:
    """Worker: one (size, variant) at one thread count in this process; baseline vs current, ABAB."""
    import importlib

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, args.baseline_dir)
    base = importlib.import_module(BASE_PACKAGE)
    for pkg in (BASE_PACKAGE, "twist_agents"):
        for sub in ("dreamer", "twist"):
            importlib.import_module(f"{pkg}.{sub}")
    from twist_agents.dreamer.allocator import tune_malloc

    cur = sys.modules["twist_agents"]
    load_before = os.getloadavg()
    current, batch = build(cur, args.size, args.variant)
    baseline, _ = build(base, args.size, args.variant)
    copy_weights(current, baseline)
    out: dict[str, Any] = {"allocator_tuned": tune_malloc(), "parts": {}}
    for part in CELLS[(args.size, args.variant)]:
        fns = {"baseline": update_fn(baseline, part, batch), "current": update_fn(current, part, batch)}
        res = abab(fns, args.reps, args.warmup)
        for key in ("cpu_ms", "wall_ms"):
            res[f"speedup_{key[:-3]}"] = round(res["baseline"][key] / res["current"][key], 3)
        out["parts"][part] = res
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["load_avg_before"], out["load_avg_after"] = load_before, os.getloadavg()
    return out


def memory_growth(args: argparse.Namespace) -> dict[str, Any]:
    """Worker: resident memory after each of ``reps`` full XS pixel updates of the current code alone."""
    import torch

    import twist_agents
    import twist_agents.dreamer  # noqa: F401  (binds the subpackage that build() reaches through the package)

    torch.set_num_threads(args.threads)
    agent, batch = build(twist_agents, "xs", "pixels")
    page = os.sysconf("SC_PAGE_SIZE")
    rss = []
    for _ in range(args.reps):
        agent.update(batch)
        rss.append(round(int(Path("/proc/self/statm").read_text().split()[1]) * page / 2**20))
    return {
        "rss_mb_after_each_update": rss,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


# ---------------------------------------------------------------------------------------------- driver
def spawn(worker: str, extra: list[str], tuned: bool) -> dict[str, Any]:
    """Run a worker in a fresh process (default allocator tuning, or ``TWIST_TUNE_MALLOC=0``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["TWIST_TUNE_MALLOC"] = "1" if tuned else "0"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--worker", worker, *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {worker} {extra} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="commit to compare with")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--sizes", default="cpu,xs")
    parser.add_argument("--variants", default="state,pixels,twist")
    parser.add_argument("--reps", type=int, default=5, help="timed updates per code path (alternating)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed updates per code path first")
    parser.add_argument("--allocators", default="tuned,default", help="'tuned' and/or 'default' (TWIST_TUNE_MALLOC=0)")
    parser.add_argument("--memory-reps", type=int, default=12, help="updates of the RSS trace (0: skip)")
    parser.add_argument("--out", type=Path, default=RESULTS / "update_speed.json")
    parser.add_argument("--resume", action="store_true", help="keep the cells already in --out, run the others")
    parser.add_argument("--worker", choices=("cell", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-dir", help=argparse.SUPPRESS)
    parser.add_argument("--threads-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        args.threads = args.threads_one
        result = run_cell(args) if args.worker == "cell" else memory_growth(args)
        print(json.dumps(result))
        return

    import torch

    tmp = Path(tempfile.mkdtemp(prefix="update_speed_"))
    try:
        commit = extract_baseline(args.baseline, tmp)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "twist_agents"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
        )
        report: dict[str, Any] = {
            "what": "ms per update (median), baseline commit vs this tree, alternating in one process (see docstring)",
            "baseline_commit": commit,
            "current_commit": head + ("+uncommitted" if dirty else ""),
            "current_twist_agents_tree": _tree("HEAD") + ("+uncommitted" if dirty else ""),
            "torch": torch.__version__,
            "machine": platform.machine(),
            "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(),
            "reps": args.reps,
            "warmup": args.warmup,
            "load_avg_start": os.getloadavg(),
            "results": {},
        }
        if args.resume and args.out.exists():
            old = json.loads(args.out.read_text())
            same = old.get("current_twist_agents_tree") == report["current_twist_agents_tree"]
            if old.get("baseline_commit") != commit or not same:
                raise SystemExit(f"--resume: {args.out} measured other code; run without --resume")
            report = {**old, "load_avg_resumed": os.getloadavg()}
        for threads in [int(t) for t in args.threads.split(",")]:
            for size in args.sizes.split(","):
                for variant in args.variants.split(","):
                    for alloc in args.allocators.split(","):
                        extra = ["--size", size, "--variant", variant, "--baseline-dir", str(tmp)]
                        extra += ["--threads-one", str(threads), "--reps", str(args.reps), "--warmup", str(args.warmup)]
                        key = f"{size}/{variant}/{threads}threads/{alloc}_allocator"
                        if key in report["results"]:
                            continue
                        t0 = time.perf_counter()
                        report["results"][key] = spawn("cell", extra, alloc == "tuned")
                        report["results"][key]["bench_wall_s"] = round(time.perf_counter() - t0, 1)
                        _print_cell(key, report["results"][key])
                        _write(args.out, report)  # after every cell: a long run that is stopped keeps its results
        if args.memory_reps and "memory_xs_pixels_full_update" not in report:
            extra = ["--threads-one", "1", "--reps", str(args.memory_reps)]
            report["memory_xs_pixels_full_update"] = {
                alloc: spawn("memory", extra, alloc == "tuned") for alloc in ("tuned", "default")
            }
        report["load_avg_end"] = os.getloadavg()
        _write(args.out, report)
        print(f"wrote {args.out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _tree(rev: str) -> str:
    """Git tree hash of ``twist_agents`` at ``rev``: the measured code, whatever else the commit changed."""
    out = subprocess.run(["git", "rev-parse", f"{rev}:twist_agents"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip()


def _write(path: Path, report: dict[str, Any]) -> None:
    from twist_agents.data.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(report, indent=2) + "\n")


def _print_cell(key: str, cell: dict[str, Any]) -> None:
    for part, r in cell["parts"].items():
        b, c = r["baseline"], r["current"]
        print(
            f"  {key} {part}: baseline {b['cpu_ms']:.0f} ms CPU / {b['wall_ms']:.0f} ms wall, current "
            f"{c['cpu_ms']:.0f} / {c['wall_ms']:.0f} (x{r['speedup_cpu']} CPU, x{r['speedup_wall']} wall), "
            f"load {cell['load_avg_before'][0]:.2f}",
            flush=True,
        )


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
