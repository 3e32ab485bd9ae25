"""The layers import downward only, with no cycle and no function-level import dodging one.

    stages (pure; the HTTP transport under fetch/send)  ←  chatgpt_es.runtime  ←  pipeline  ←  applications
    (chatgpt_es.cli, chatgpt_es.emulator, chatgpt_es.server, chatgpt_es.g4f)
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"stages": 0, "chatgpt_es.runtime": 1, "pipeline": 2, "chatgpt_es": 3}
#: function-level imports of the project's own modules, each with its reason (none may dodge a cycle)
LAZY_ALLOWED = {
    ("chatgpt_es.cli", "chatgpt_es.runtime.logs"): "structlog costs start-up time that --help need not pay",
    ("chatgpt_es.cli", "stages.errors"): "loads the whole stages package; only needed once a command failed",
    ("stages.transport", "stages.session"): "the engine on curl_cffi's handles: importing it loads curl_cffi, "
                                            "which only a request needs (require_curl_cffi says when it is missing)",
    ("stages.transport", "stages.transfer"): "imports curl_cffi too (curl's callback codes), for the same reason",
}


def module_files() -> dict[str, Path]:
    files = {"pipeline": ROOT / "pipeline.py"}
    for package in ("stages", "chatgpt_es"):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


def layer_of(module: str) -> int:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def imports_of(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """(project module imported, whether the import is inside a function) for each import statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # imports for type hints only: never run, no cycle at run time
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in child.names]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    found.append((target, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def graph() -> dict[str, list[tuple[str, bool]]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def test_every_import_goes_downward_or_stays_in_its_layer() -> None:
    upward = [(name, target) for name, targets in graph().items() for target, _ in targets
              if layer_of(target) > layer_of(name)]
    assert upward == []


def test_a_known_upward_import_would_be_caught() -> None:
    assert layer_of("stages.parse") < layer_of("chatgpt_es.runtime.client") < layer_of("pipeline")
    assert layer_of("pipeline") < layer_of("chatgpt_es.cli.ask") == layer_of("chatgpt_es.emulator.server")


def test_there_is_no_import_cycle_between_modules() -> None:
    edges = {name: {target for target, _ in targets if not name.startswith(target + ".")}
             for name, targets in graph().items()}  # a module importing its own package is not a cycle
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            walk(node, [node])
    assert cycles == []


def test_function_level_imports_of_the_project_are_only_the_allowed_lazy_ones() -> None:
    lazy = {(name, target) for name, targets in graph().items() for target, inside in targets if inside}
    assert lazy <= set(LAZY_ALLOWED), sorted(lazy - set(LAZY_ALLOWED))
