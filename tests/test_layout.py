"""The package's import graph, read with ast (every import, including those inside functions): layers only
import downward and no modules import each other in a cycle.

Layers, bottom up: the foundation (keys, errors, sim_optional, gym_notice, checkpoints, config) -> envs/ (environment
backends) -> teacher/ (its own modules are the env-independent core; minigrid/ and rearrange/ are the env
teachers on top of it) -> teachers.py -> server/ -> distill/ -> registration.py, run.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "habitat_llm4teach"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

FOUNDATION = ("keys", "errors", "sim_optional", "gym_notice", "checkpoints", "config")
ENV_TEACHERS = ("teacher.minigrid", "teacher.rearrange")
# What the teachers read of the envs: the layout of the observations they decode, never a backend.
OBSERVATION_LAYOUTS = ("envs.minigrid.symbolic", "envs.rearrange.scene")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (module level, functions, TYPE_CHECKING)."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if _is_package(name) else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from package import module` imports the module; `from module import name` the module itself.
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _relative(name: str) -> str:
    return name[len(PACKAGE) + 1 :] if name.startswith(PACKAGE + ".") else ""


def _under(name: str, *prefixes: str) -> bool:
    rel = _relative(name)
    return any(rel == p or rel.startswith(p + ".") for p in prefixes)


def _is_teacher_core(name: str) -> bool:
    return _under(name, "teacher") and not _under(name, *ENV_TEACHERS)


# (who, what it must not import, why)
RULES = [
    (lambda m: _under(m, *FOUNDATION), lambda t: _relative(t) != "" and not _under(t, *FOUNDATION),
     "the foundation imports only the foundation"),
    (lambda m: _under(m, "envs"), lambda t: _under(t, "teacher", "teachers", "server", "distill", "registration", "run"),
     "envs/ holds environment backends only"),
    (lambda m: _under(m, "teacher"), lambda t: _under(t, "teachers", "server", "distill", "registration", "run"),
     "the teacher does not know who asks it"),
    (lambda m: _under(m, "teacher"), lambda t: _under(t, "envs") and not _under(t, *OBSERVATION_LAYOUTS),
     "the teacher reads the envs' observation layouts only, never a backend"),
    (_is_teacher_core, lambda t: _under(t, *ENV_TEACHERS), "the teacher core is env-independent"),
    (lambda m: _under(m, "teacher.minigrid"), lambda t: _under(t, "teacher.rearrange"), "env teachers are siblings"),
    (lambda m: _under(m, "teacher.rearrange"), lambda t: _under(t, "teacher.minigrid"), "env teachers are siblings"),
    (lambda m: _under(m, "teachers"), lambda t: _under(t, "server", "distill", "registration", "run"),
     "teachers.py sits below the server and the trainer"),
    (lambda m: _under(m, "server"), lambda t: _under(t, "distill", "registration", "run"), "the server knows no trainer"),
    (lambda m: _under(m, "distill"), lambda t: _under(t, "registration", "run"), "only entry points import everything"),
]


def test_every_import_is_read():
    assert {f"{PACKAGE}.keys", f"{PACKAGE}.teacher.planner", f"{PACKAGE}.envs.rearrange.adapter"} <= set(GRAPH)
    assert f"{PACKAGE}.teacher.minigrid.perception" in GRAPH[f"{PACKAGE}.teacher.minigrid.describe"]
    # inside functions (server/__main__.py imports the server after parsing its arguments)
    assert f"{PACKAGE}.server.server" in GRAPH[f"{PACKAGE}.server.__main__"]
    # `from package import module`
    assert f"{PACKAGE}.keys" in GRAPH[f"{PACKAGE}.envs.minigrid.adapter"]


@pytest.mark.parametrize("who,forbidden,why", RULES, ids=[r[2] for r in RULES])
def test_no_upward_imports(who, forbidden, why):
    upward = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if who(m) for t in targets if forbidden(t))
    assert not upward, f"{why}: {upward}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_the_cycle_check_finds_cycles():
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
