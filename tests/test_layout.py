"""The promises the package's layout makes: imports point down the data flow, no module imports
itself through others, and the public API is exactly what ``reconcile.__all__`` says."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import reconcile

PACKAGE = Path(reconcile.__file__).parent

#: Each top-level entry of ``reconcile/`` by layer, bottom first: an entry may import only entries
#: of layers below its own (and the package root, for ``__version__``).
LAYERS = [
    {"errors", "sandbox"},             # sandbox: a stand-in for Customer.io, independent of the code under test
    {"config", "results", "identity"},
    {"shop", "customerio"},
    {"compare"},
    {"diagnose", "checks"},
    {"purchases"},                     # orders against events: reads the shop, the events and Customer.io
    {"audit", "report", "validate"},
    {"deliver", "init"},
    {"repair"},                        # a reviewed plan from a finished run, applied through the Track API
    {"demo"},
    {"cli"},
    {"__main__"},
]
RANK = {entry: rank for rank, layer in enumerate(LAYERS) for entry in layer}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (``reconcile.compare.diff``)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """The reconcile modules ``name`` imports anywhere in its code, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and getattr(block.test, "id", None) == "TYPE_CHECKING" for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("reconcile")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("reconcile"):
                found.add(target)
                found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def entry(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_top_level_entry_has_a_layer():
    entries = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir()
               if (path.suffix == ".py" or (path / "__init__.py").exists()) and path.name != "__init__.py"}
    assert entries == set(RANK)


def test_imports_point_down_the_flow():
    known = modules()
    wrong = []
    for name, path in known.items():
        source = entry(name)
        for target in imports(name, path):
            if target not in known:
                continue                      # a name imported from a module, not a module
            goal = entry(target)
            if goal in ("", source):
                continue
            if RANK[goal] >= RANK[source]:
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_no_module_imports_itself_through_others():
    known = modules()
    graph = {name: {t for t in imports(name, path) if t in known and t != name} for name, path in known.items()}
    # a package's __init__ re-exporting its own modules is not a circle: drop edges into a parent package
    graph = {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}
    state, cycles = {}, []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_public_api_is_exactly_this():
    assert reconcile.__all__ == [
        "__version__", "load_config", "parse_config", "Config", "run_audit", "Progress", "RunResult",
        "SegmentResult", "CheckResult", "Status", "Severity", "decide", "write_outputs", "main", "ExitCode",
        "ReconcileError", "ConfigError", "UsageError", "CompareError", "DatabaseError", "CustomerIOError",
        "DeliveryError"]
    for name in reconcile.__all__:
        assert getattr(reconcile, name) is not None, name
    assert reconcile.run_audit.__module__ == "reconcile.audit"
    assert reconcile.ExitCode.COULD_NOT_COMPARE == 3 and reconcile.DeliveryError.exit_code == 4


def test_importing_the_package_loads_no_data_library():
    probe = ("import sys, reconcile, reconcile.cli; "
             "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'great_expectations') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_command_is_in_the_readme_and_has_help():
    from reconcile.cli import COMMANDS, build_parser

    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Command line"):readme.index("### Exit codes")]
    commands = build_parser()._subparsers._group_actions[0]
    for name in COMMANDS:
        assert f"| `reconcile {name}" in table, name
        assert commands.choices[name].format_help().strip(), name
    assert set(commands.choices) == set(COMMANDS)
