"""The code's shape, checked: layers import only downwards, no import circle, no private name used across modules.

Layers, lowest first (README, "Architecture"):
    0 rag.config rag.errors rag.types rag.text rag.progress rag.models   records, settings, words
    1 rag.index.*     parse, clean, chunk, embed, build; the store interface and its back-ends
    2 rag.engine.*    understand, retrieve, rank, decide, compose, generate; the pipeline
    3 rag.serve.*     the answering service, collections, the OpenAI-compatible API
    4 rag.tools.*     eval, bench, train, the question corpus
    5 ui.*            the web chat
    6 rag.cli ui.__main__   the commands
Every import counts, a function's own included (a lazy import is how a circle hides).
"""

from __future__ import annotations

import ast
from pathlib import Path

from rag.config import ROOT

PACKAGES = ("rag", "ui")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(p.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = p
    return out


MODULES = _modules()


def layer(module: str) -> int:
    if module in ("rag.cli", "ui.__main__"):
        return 6
    if module.startswith("ui"):
        return 5
    for n, pkg in ((1, "rag.index"), (2, "rag.engine"), (3, "rag.serve"), (4, "rag.tools")):
        if module == pkg or module.startswith(pkg + "."):
            return n
    return 0


def _resolve(name: str) -> str | None:
    """The project module an import names (a name imported from a package may be a module of it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> list[tuple[str, int, list[str]]]:
    """(imported project module, line, names imported from it) for every import statement of `module`."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if (target := _resolve(a.name)) and a.name.split(".")[0] in PACKAGES:
                    out.append((target, node.lineno, []))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            if base.split(".")[0] not in PACKAGES:
                continue
            for a in node.names:
                target = _resolve(f"{base}.{a.name}") if f"{base}.{a.name}" in MODULES else _resolve(base)
                if target:
                    out.append((target, node.lineno, [a.name] if target == _resolve(base) else []))
    return out


def test_layers_import_only_downwards():
    wrong = [f"{m}:{line} imports {t} (layer {layer(t)} above {layer(m)})"
             for m in MODULES for t, line, _ in imports(m) if layer(t) > layer(m)]
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    graph = {m: {t for t, _, _ in imports(m) if t != m and not m.startswith(t + ".")} for m in MODULES}
    # a package's __init__ importing its own modules is not a circle with them
    state, circles = {}, []

    def visit(m, path):
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                circles.append(" -> ".join(path[path.index(t):] + [t]) if t in path else f"{m} -> {t}")
            elif t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not circles, "\n".join(circles)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_definitions() -> dict[str, set[str]]:
    """module -> the private names it defines: functions, classes, attributes set on self or at module level."""
    out = {}
    for m, path in MODULES.items():
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
        out[m] = {n for n in names if _private(n)}
    return out


def test_no_private_name_used_across_modules():
    """A private name of the project (not of a library's object) is used only in the module that defines it."""
    defined = _private_definitions()
    everywhere = set().union(*defined.values())
    wrong = []
    for m, path in MODULES.items():
        for t, line, names in imports(m):
            wrong += [f"{m}:{line} imports {t}.{n}" for n in names if _private(n) and t != m]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in everywhere and node.attr not in defined[m]:
                wrong.append(f"{m}:{node.lineno} uses .{node.attr} of {ast.unparse(node.value)}")
    assert not wrong, "\n".join(wrong)


def test_the_layers_are_what_the_readme_draws():
    """Every module is in the README's architecture table, so the diagram cannot drift from the code."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [m for m, p in MODULES.items() if p.name != "__init__.py" and f"`{p.relative_to(ROOT)}`" not in readme]
    assert not missing, "not in the README's module table: " + ", ".join(missing)
