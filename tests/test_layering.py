"""The import graph: no cycles (function-local imports included) and no import upward across the layers.

Layers, bottom first (a package may import only packages of its own layer or below)::

    wrappers <- twist_envs <- twist_agents
    inside twist_agents:  errors, protocol, presets  <-  data  <-  training  <-  dreamer <- twist, sac  <-  runner
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("wrappers", "twist_envs", "twist_agents")

LAYER = {
    "wrappers": 0,
    "twist_envs": 1,
    "twist_agents": 2,
    "twist_agents.errors": 2,
    "twist_agents.protocol": 2,
    "twist_agents.presets": 2,
    "twist_agents.data": 3,
    "twist_agents.training": 4,
    "twist_agents.dreamer": 5,
    "twist_agents.sac": 5,
    "twist_agents.twist": 6,
    "twist_agents.runner": 7,
}
"""Layer of each package or top-level module; an import must not go to a higher layer."""


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of :data:`PACKAGES` (a package is its ``__init__``)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules that ``name`` imports anywhere in its file (module level, functions, TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from pkg import submodule`` imports the submodule too.
            targets = [target] + [f"{target}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            # The nearest project module that the dotted name is (or is inside of).
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # Importing a.b.c runs a/__init__ and a/b/__init__ first, unless they are packages of the importer.
            while target and target != name and not name.startswith(target + "."):
                found.add(target)
                target = target.rpartition(".")[0]
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    modules = module_files(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or ``None`` if the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def layer_of(module: str) -> tuple[str, int]:
    """The entry of :data:`LAYER` that ``module`` belongs to (the longest matching prefix)."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in LAYER:
            return key, LAYER[key]
    raise KeyError(f"{module} is in no layer: add its package to LAYER")


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between the entries of :data:`LAYER` (sub-packages), self-edges dropped."""
    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        src = layer_of(module)[0]
        out.setdefault(src, set()).update(t for t in map(lambda m: layer_of(m)[0], targets) if t != src)
    return out


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a module from a higher layer, as ``"a -> b"``."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target)[1] > layer_of(module)[1]
    )


# ---------------------------------------------------------------------------------------------- the checks
def test_every_module_is_in_a_layer():
    for module in import_graph():
        layer_of(module)


def test_no_module_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_package_import_cycle():
    cycle = find_cycle(package_graph(import_graph()))
    assert cycle is None, "package-level import cycle: " + " -> ".join(cycle or [])


def test_no_import_goes_up_a_layer():
    assert upward_imports(import_graph()) == []


@pytest.mark.parametrize("package", ["dreamer", "twist", "sac", "data", "training"])
def test_algorithms_and_lower_layers_never_import_the_runner(package):
    graph = import_graph()
    offenders = [
        f"{m} -> {t}"
        for m, targets in graph.items()
        if m.startswith(f"twist_agents.{package}")
        for t in targets
        if t.startswith("twist_agents.runner")
    ]
    assert offenders == []


# ------------------------------------------------------------------------------- the checker can fail
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


def test_checker_finds_a_cycle_hidden_in_a_function(tmp_path):
    root = _tree(
        tmp_path,
        {
            "twist_agents/runner/__init__.py": "",
            "twist_agents/runner/a.py": "from twist_agents.runner.b import g\n",
            "twist_agents/runner/b.py": "def g():\n    from twist_agents.runner import a\n",
        },
    )
    assert find_cycle(import_graph(root)) == ["twist_agents.runner.a", "twist_agents.runner.b", "twist_agents.runner.a"]


def test_checker_finds_an_algorithm_importing_the_runner(tmp_path):
    root = _tree(
        tmp_path,
        {
            "twist_agents/runner/__init__.py": "",
            "twist_agents/runner/loop.py": "",
            "twist_agents/twist/__init__.py": "",
            "twist_agents/twist/pipeline.py": "def f():\n    from ..runner.loop import train\n",
        },
    )
    graph = import_graph(root)
    assert upward_imports(graph) == [
        "twist_agents.twist.pipeline -> twist_agents.runner",
        "twist_agents.twist.pipeline -> twist_agents.runner.loop",
    ]
    assert find_cycle(package_graph(graph)) is None  # an upward import alone is no cycle; the layer rule catches it


def test_checker_finds_a_package_cycle_between_acyclic_modules(tmp_path):
    root = _tree(
        tmp_path,
        {
            "twist_agents/runner/__init__.py": "",
            "twist_agents/runner/a.py": "import twist_agents.twist.p\n",
            "twist_agents/twist/__init__.py": "",
            "twist_agents/twist/p.py": "",
            "twist_agents/twist/q.py": "from twist_agents.runner import a\n",
        },
    )
    graph = import_graph(root)
    assert find_cycle(graph) is None
    assert find_cycle(package_graph(graph)) == ["twist_agents.runner", "twist_agents.twist", "twist_agents.runner"]


def test_old_runner_names_still_import():
    """Names that moved down into ``training`` / ``dreamer.trainer`` stay importable from their old modules."""
    from twist_agents.dreamer.trainer import DREAMER_VARIANTS, train_dreamer
    from twist_agents.runner import evaluate as runner_evaluate
    from twist_agents.runner import loop, metrics
    from twist_agents.training import checkpoints, evaluate
    from twist_agents.training import loop as training_loop

    assert loop.train_dreamer is train_dreamer and loop.AGENT_VARIANTS is DREAMER_VARIANTS
    assert loop.train is training_loop.train and loop.latest_checkpoint is checkpoints.latest_checkpoint
    assert loop.evaluate is evaluate.episode_returns and runner_evaluate.evaluate is evaluate.evaluate
    assert metrics.MetricsLogger.__module__ == "twist_agents.training.metrics"
