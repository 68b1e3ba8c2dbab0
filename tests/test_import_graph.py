"""No import circles inside ftcourse: every module can be read, and imported, before those that use it.

The graph is read from the source with `ast`, so it sees every import, at module level and
inside functions (the lazy ones that hide a circle at import time still make one in the design).
An edge goes to the module an import names: `import a.b`, `from a.b import c` (to `a.b.c` when
`c` is a submodule, else to `a.b`) and relative imports. The parent packages Python runs on the
way are not edges: a package that re-exports its submodules would otherwise always be a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under `package_dir` (a package)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported(module: str, is_package: bool, node: ast.AST, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".")
        if not is_package:
            base.pop()
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    targets = []
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        targets.append(submodule if submodule in known else source)
    return targets


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (anywhere in its code)."""
    modules = module_names(package_dir)
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(tree):
            for target in _imported(name, is_package, node, known):
                # `import a.b.c` of a name that is not a module of ours: keep its longest known prefix
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one module, as a closed path."""
    return [_cycle_in(graph, component) for component in tangles(graph)]


def tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module: each is a knot of circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return components


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest closed path through the component's first module (breadth-first)."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1] + [start]
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"{sorted(component)} is not strongly connected")


def _describe(graph: dict[str, set[str]]) -> str:
    lines = []
    for component in tangles(graph):
        lines.append(" -> ".join(_cycle_in(graph, component)))
        lines += [f"    {v} imports {', '.join(sorted(graph[v] & component))}" for v in sorted(component)]
    return "\n".join(lines)


def test_ftcourse_has_no_import_cycles():
    graph = import_graph(ROOT / "ftcourse")
    assert "ftcourse.adapt.lora" in graph and "ftcourse.adapt.inject" in graph["ftcourse.adapt.lora"]
    cycles = find_cycles(graph)
    assert not cycles, f"import circles inside ftcourse:\n{_describe(graph)}"


def test_adapt_methods_build_only_on_the_shared_modules():
    graph = import_graph(ROOT / "ftcourse")
    for method, other in (("adapters", "lora"), ("lora", "adapters")):
        imports = graph[f"ftcourse.adapt.{method}"]
        assert f"ftcourse.adapt.{other}" not in imports
        assert "ftcourse.adapt" not in imports  # never the package that re-exports them


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_checker_finds_a_circle_hidden_in_a_function_and_a_relative_import(tmp_path):
    package = _write(tmp_path, {
        "pkg/__init__.py": "from pkg.a import f\n",
        "pkg/a.py": "from . import b\n\ndef f():\n    return b.g()\n",
        "pkg/b.py": "def g():\n    from pkg import c\n    return c\n",
        "pkg/c.py": "import os\n\ndef h():\n    from .a import f\n    return f\n",
        "pkg/sub/__init__.py": "from ..b import g\n",
    })
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.b"] == {"pkg.c"}  # `from pkg import c` names the submodule c
    assert graph["pkg.sub"] == {"pkg.b"}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
    assert "pkg.a -> pkg.b -> pkg.c -> pkg.a\n    pkg.a imports pkg.b" in _describe(graph)


def test_checker_accepts_a_package_that_re_exports_its_submodules(tmp_path):
    package = _write(tmp_path, {
        "pkg/__init__.py": "from pkg.a import f\nfrom pkg.b import g\n",
        "pkg/a.py": "import pkg.b\n\ndef f():\n    return pkg.b.g()\n",
        "pkg/b.py": "def g():\n    return 1\n",
    })
    graph = import_graph(package)
    assert graph == {"pkg": {"pkg.a", "pkg.b"}, "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert find_cycles(graph) == []
