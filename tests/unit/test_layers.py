"""The import layers: steady-queue-core stands alone on web hosts, and steady_queue.sql knows no model.

Read from the source (every import statement, at any depth: a function-level import breaks a web
host as surely as a module-level one). The slow packaging test checks the first rule again on a
real install of steady-queue-core alone.
"""

import ast
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
CORE = PACKAGES / "steady-queue-core" / "src" / "steady_queue"
# The one sanctioned crossing: Django finds commands only in the app's own directory, so core's
# `steady_queue` command hands over to the worker's when it is installed (ModuleNotFoundError
# guarded, with a clear message otherwise).
ALLOWED = {"steady-queue-core/src/steady_queue/management/commands/steady_queue.py imports steady_queue.worker.command",
           "steady-queue-core/src/steady_queue/management/commands/steady_queue.py imports "
           "steady_queue.worker.command.Command"}


def imported_modules(path, package):
    """The absolute names of the modules a file imports (relative imports resolved against ``package``)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def module_files(root, package):
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).with_suffix("")
        parts = [package, *relative.parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield path, ".".join(parts if is_package else parts[:-1])


def violations(root, package, forbidden):
    found = []
    for path, containing in module_files(root, package):
        for name in imported_modules(path, containing):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(PACKAGES)} imports {name}")
    return sorted(set(found))


def test_the_scan_resolves_relative_imports(tmp_path):
    # Guards the test itself: a relative import must count as the module it names.
    (tmp_path / "base.py").write_text("from ..models import Job\nfrom . import other\n")
    found = set(imported_modules(tmp_path / "base.py", "steady_queue.sql"))
    assert {"steady_queue.models", "steady_queue.models.Job", "steady_queue.sql.other"} <= found


@pytest.mark.parametrize(
    ("root", "package", "forbidden"),
    [
        (CORE, "steady_queue", ["steady_queue.worker", "steady_queue.cron"]),
        (CORE / "sql", "steady_queue.sql", ["steady_queue.models"]),
    ],
    ids=["core-imports-no-worker-or-cron", "sql-imports-no-model"],
)
def test_layers(root, package, forbidden):
    assert [found for found in violations(root, package, forbidden) if found not in ALLOWED] == []
