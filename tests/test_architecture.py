"""The package's structure, read from its source: no import cycles, three layers that never mix, small modules.

Imports inside functions count (a lazy import hides a cycle, it does not remove it); imports under
``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gradcam_audit"
MAX_MODULE_LINES = 400
MAX_CORE_MODULES = 8


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                lines.update(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
    return lines


def _imported_names(module: str, path: Path) -> tuple[set[str], set[str]]:
    """(modules of this package it imports, top-level names of other packages it imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_lines(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and node.lineno not in skipped:
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.lineno not in skipped:
            if node.level:
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    internal: set[str] = set()
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        # A package's __init__ is not a dependency of its own submodules.
        if name and name != module and not module.startswith(name + "."):
            internal.add(name)
    external = {name.split(".")[0] for name in names if not name.startswith("gradcam_audit")}
    return internal, external


GRAPH: dict[str, set[str]] = {}
EXTERNAL: dict[str, set[str]] = {}
for _name, _path in MODULES.items():
    GRAPH[_name], EXTERNAL[_name] = _imported_names(_name, _path)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check below cannot pass by accident: on a graph with a cycle it reports it."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("layer", ["gradcam_audit.core", "gradcam_audit.rendering"])
def test_layers_never_import_the_layers_above_them(layer: str) -> None:
    """The core never imports pytest, jinja2, the plugin, the CLI or the rendering; rendering never the plugin or CLI."""
    above = ("gradcam_audit.plugin", "gradcam_audit.cli") + (("gradcam_audit.rendering",) if layer == "gradcam_audit.core" else ())
    forbidden_packages = {"pytest", "_pytest"} | ({"jinja2"} if layer == "gradcam_audit.core" else set())
    wrong = []
    for module, imports in GRAPH.items():
        if module == layer or module.startswith(layer + "."):
            wrong += [f"{module} -> {name}" for name in imports if name.startswith(above)]
            wrong += [f"{module} -> {name}" for name in EXTERNAL[module] & forbidden_packages]
    assert wrong == []


def test_modules_stay_small_and_the_core_is_a_tree_of_stages() -> None:
    long_modules = {name: lines for name, path in MODULES.items()
                    if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long_modules == {}
    direct = sorted(path.name for path in (PACKAGE / "core").glob("*.py") if path.name != "__init__.py")
    assert len(direct) <= MAX_CORE_MODULES, direct


# The report's stages, in the order data flows through them: a folder may import only folders before it.
RENDERING_ORDER = ("pictures", "views", "text", "html")


def _rendering_stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 and parts[1] == "rendering" else None


@pytest.mark.parametrize("stage", RENDERING_ORDER)
def test_rendering_folders_import_only_earlier_folders(stage: str) -> None:
    allowed = set(RENDERING_ORDER[: RENDERING_ORDER.index(stage)])
    wrong = sorted(
        f"{module} imports {dependency}"
        for module, dependencies in GRAPH.items() if _rendering_stage(module) == stage
        for dependency in dependencies
        if _rendering_stage(dependency) not in (None, stage) and _rendering_stage(dependency) not in allowed
    )
    assert not wrong, "a rendering folder reaches a later one (move the code down):\n" + "\n".join(wrong)


# The core's folders in the order their imports allow: a folder imports only folders before it (the modules directly
# in core/ — audit, discover, validate, ... — drive them all). Plain records and the file door come first; the ledger
# after what it judges; the run after the evaluation it schedules.
CORE_ORDER = ("files", "records", "spec", "jobs", "engine", "evaluate", "ledger", "run", "plan", "baseline", "annotations")
# The one exception, by design: the spec language is built from the units' own declarations (a metric's keys, a CAM
# method's name, a removal operator), so the spec reads these registries; none of them imports the spec's loader.
UNIT_REGISTRIES = ("gradcam_audit.core.engine.method_names", "gradcam_audit.core.engine.methods",
                   "gradcam_audit.core.evaluate.metrics", "gradcam_audit.core.evaluate.removal")


def _core_folder(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "core" and parts[2] in CORE_ORDER else None


def test_core_folders_import_only_earlier_folders() -> None:
    modules_in_folders = {module for module in GRAPH if _core_folder(module) in CORE_ORDER}
    assert {_core_folder(module) for module in modules_in_folders} == set(CORE_ORDER)
    wrong = []
    for module in sorted(modules_in_folders):
        rank = CORE_ORDER.index(_core_folder(module) or "")
        for dependency in sorted(GRAPH[module]):
            folder = _core_folder(dependency)
            if folder is None or folder == _core_folder(module) or CORE_ORDER.index(folder) < rank:
                continue
            if _core_folder(module) == "spec" and dependency in UNIT_REGISTRIES:
                continue
            wrong.append(f"{module} imports {dependency}")
    assert not wrong, "a core folder reaches a later one (move the code to the stage that owns it):\n" + "\n".join(wrong)


def test_the_unit_registries_never_import_the_spec_loader() -> None:
    reached = {registry: sorted(dependency for dependency in GRAPH[registry]
                                if dependency.startswith("gradcam_audit.core.spec.") and dependency != "gradcam_audit.core.spec.model")
               for registry in UNIT_REGISTRIES}
    assert not any(reached.values()), reached


def _top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def test_the_scripts_beside_the_package_import_names_that_exist() -> None:
    # benchmarks/ and examples/ run by hand, not in the suite: after a module moves, a stale import there fails only
    # when someone runs it (outside_sweep_cost.py did, in the middle of a benchmark run).
    scripts = sorted((PACKAGE.parent / "benchmarks").glob("*.py")) + sorted((PACKAGE.parent / "examples").glob("*.py"))
    stale = []
    for script in scripts:
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gradcam_audit")):
                continue
            if node.module not in MODULES:
                stale.append(f"{script.name}: no module {node.module}")
                continue
            defined = _top_level_names(MODULES[node.module])
            stale += [f"{script.name}: {node.module} has no {alias.name}" for alias in node.names
                      if alias.name not in defined and f"{node.module}.{alias.name}" not in MODULES]
    assert not stale, "\n".join(stale)
