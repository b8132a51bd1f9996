"""benchmarks/ is an orchestrator (run.py) over one module per benchmark and a few shared
modules: every module imports, the imports form no circle, nothing imports the orchestrator,
no helper is written in two modules, and the profile tables name functions that exist."""
import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "benchmarks"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
# Names each benchmark module defines for the orchestrator: the same role, not the same code.
ROLES = {"bench", "counts_over_http", "verdicts", "target_rows", "markdown_lines", "markdown", "reading", "main"}


def _benchmark_imports(stem: str) -> set[str]:
    """benchmarks.* modules `stem` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{stem}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "benchmarks":
            found |= {alias.name for alias in node.names if alias.name in MODULES}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("benchmarks."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("benchmarks.")}
    return found


GRAPH = {stem: _benchmark_imports(stem) for stem in MODULES}


def test_the_layout_has_its_modules():
    assert {"run", "pgadmin", "processes", "measure", "report", "slot_search", "booking_throughput",
            "contention", "booking_profile", "calendar_bench", "load", "faults"} <= set(MODULES)
    assert "common" not in MODULES  # the old grab bag is gone


@pytest.mark.parametrize("stem", MODULES)
def test_every_benchmarks_module_imports(stem):
    assert importlib.import_module(f"benchmarks.{stem}").__name__ == f"benchmarks.{stem}"


def _cycle(graph: dict) -> list[str] | None:
    """One import circle as a path, or None (depth-first search, colouring the modules)."""
    state: dict[str, str] = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path + [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [node])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_circle_and_accepts_a_tree():
    assert _cycle({"run": {"a"}, "a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"run": {"a", "b"}, "a": {"b"}, "b": set()}) is None


def test_benchmarks_imports_form_no_circle():
    assert _cycle(GRAPH) is None


def test_nothing_imports_the_orchestrator():
    assert [stem for stem, imports in GRAPH.items() if "run" in imports] == []


def test_no_helper_is_defined_in_two_modules():
    where: dict[str, list[str]] = {}
    for stem in MODULES:
        for node in ast.parse((PACKAGE / f"{stem}.py").read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                where.setdefault(node.name, []).append(stem)
    assert {name: stems for name, stems in where.items() if len(stems) > 1 and name not in ROLES} == {}


def _profile_tables():
    from benchmarks import booking_profile, calendar_busy, calendar_feed, slot_search

    return {"slot_search": slot_search.PARTS, "booking_profile": booking_profile.PARTS,
            "calendar_feed": calendar_feed.FEED_PARTS, "calendar_busy": calendar_busy.SYNC_PARTS}


def _source_of(suffix: str) -> Path:
    if suffix.startswith("scheduler/"):
        return ROOT / suffix
    package = importlib.util.find_spec(suffix.split("/")[0])
    return Path(package.origin).parent.parent / suffix


@pytest.mark.parametrize("table", ["slot_search", "booking_profile", "calendar_feed", "calendar_busy"])
def test_profile_tables_name_functions_that_exist(table):
    # A moved or renamed module would leave its rows silently out of the profile.
    missing = [f"{suffix}:{function}" for suffix, function in _profile_tables()[table]
               if not _source_of(suffix).exists() or f"def {function}(" not in _source_of(suffix).read_text()]
    assert missing == []
