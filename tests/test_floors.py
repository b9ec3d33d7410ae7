"""The house's floors, read from the import graph (imports inside functions included).

    3  interfaces   newsdesk.cli, newsdesk.web, scheduler.py   (the command line may start the web app)
    2  application  newsdesk.ops
    1  libraries    scraper, index                             (never each other)
    0  foundation   newsdesk.core                              (imports nothing else of the project)

An import may point down, or stay inside its own room; never up, never sideways, never in a circle
(imports under ``if TYPE_CHECKING:`` count for the floors, not for circles: they never run).
docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("newsdesk", "scraper", "index", "scheduler")

#: room -> floor; a module's room is the longest prefix of its name listed here
ROOMS = {
    "newsdesk": 0,  # the package itself: __version__ only
    "newsdesk.core": 0,
    "scraper": 1,
    "index": 1,
    "newsdesk.ops": 2,
    "newsdesk.cli": 3,
    "newsdesk.web": 3,
    "scheduler": 3,
    "newsdesk.__main__": 4,  # `python -m newsdesk`: the command line's entry point
}
#: the only sideways doors: the command line starts the web app (`newsdesk serve`)
SIDEWAYS = {("newsdesk.cli", "newsdesk.web")}


def module_files() -> dict[str, Path]:
    found = {"scheduler": ROOT / "scheduler.py"}
    for package in ("newsdesk", "scraper", "index"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = module_files()


def project_module(name: str) -> str | None:
    """The project module an imported name lands in (a package's __init__ for a name inside it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:`` (read by type checkers only, never run)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {id(n) for child in node.body for n in ast.walk(child) if isinstance(n, ast.Import | ast.ImportFrom)}
    return found


def imports(module: str, path: Path, runtime_only: bool = False) -> Iterator[tuple[str, int]]:
    """(imported project module, line) for every import in the file, at any depth.

    :param runtime_only: leave out the imports under ``if TYPE_CHECKING:`` (an annotation is no cycle).
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _type_only(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in PROJECT and (found := project_module(target)) and found != module:
                yield found, node.lineno


def room(module: str) -> str:
    return max((r for r in ROOMS if module == r or module.startswith(r + ".")), key=len)


GRAPH = {m: sorted(set(imports(m, p))) for m, p in MODULES.items()}


def test_every_module_has_a_room() -> None:
    assert all(room(m) for m in MODULES)


def wrong_imports(graph: dict[str, list[tuple[str, int]]]) -> list[str]:
    """Every import in ``graph`` that points up or sideways, as "module (room, floor) imports target (…)"."""
    wrong = []
    for module, targets in graph.items():
        here = room(module)
        for target, line in targets:
            there = room(target)
            allowed = there == here or ROOMS[there] < ROOMS[here] or (here, there) in SIDEWAYS
            if here == "newsdesk" and module != "newsdesk":  # a module directly in newsdesk/ has no room yet
                allowed = False
            if not allowed:
                wrong.append(f"{module}:{line} ({here}, floor {ROOMS[here]}) imports {target} ({there}, floor "
                             f"{ROOMS[there]})")
    return wrong


def test_imports_point_down_or_stay_in_their_room() -> None:
    wrong = wrong_imports(GRAPH)
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    """No circle of imports that run (one through an ``if TYPE_CHECKING:`` annotation import is allowed)."""
    edges = {m: {t for t, _ in imports(m, p, runtime_only=True)} for m, p in MODULES.items()}
    cycles, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("source, importer, wrong", [
    ("from newsdesk.ops.config import load_config\n", "index.probe", True),  # up, at the top
    ("def later():\n    from scraper.sources import Source\n", "index.probe", True),  # sideways, in a function
    ("from newsdesk.cli.main import cli\n", "newsdesk.web.probe", True),  # the web app never imports the CLI
    ("from newsdesk.core.home import Home\n", "index.probe", False),  # down
    ("from index.search import Hit\n", "index.probe", False),  # in its own room
])
def test_the_check_sees_a_wrong_import(tmp_path: Path, source: str, importer: str, wrong: bool) -> None:
    """The graph reader finds imports at the top and inside functions; the rule tells up and sideways from down."""
    path = tmp_path / "probe.py"
    path.write_text(source)
    found = sorted(set(imports(importer, path)))
    assert found
    assert bool(wrong_imports({importer: found})) is wrong


def test_the_readme_layout_matches_the_tree() -> None:
    """Every folder the README's layout names exists, and every package of the project is named there."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout of the code", 1)[1].split("```")[1]
    named = {line.split()[0].rstrip("/") for line in block.strip().splitlines()}
    assert all((ROOT / name).exists() for name in named), sorted(n for n in named if not (ROOT / n).exists())
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "newsdesk").glob("*/__init__.py")}
    expected = packages | {"scraper", "index", "scheduler.py", "tests", "benchmarks"}
    assert expected <= named, sorted(expected - named)
