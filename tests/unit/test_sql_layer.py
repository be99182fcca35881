"""The per-database layer is the only place SQL names the queue's tables and columns, and it takes
every one of them from the models: a renamed db_table or db_column cannot leave a statement behind.

The scan reads the packages' source (not the tests'): string literals that look like SQL, the
literal parts of f-strings included; docstrings and migrations (history, frozen as written) are not.
"""

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
SQL_LAYER = PACKAGES / "steady-queue-core" / "src" / "steady_queue" / "sql"
SQL_LOOKING = re.compile(r"\b(SELECT|INSERT INTO|UPDATE|DELETE FROM|WHERE|RETURNING|VALUES|ORDER BY|SET)\b")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def names():
    """Every queue table's name and column name."""
    tables, columns = set(), set()
    for model in apps.get_app_config("steady_queue").get_models():
        tables.add(model._meta.db_table)
        columns.update(field.column for field in model._meta.concrete_fields)
    return tables, columns


def sources():
    for path in sorted(PACKAGES.glob("*/src/**/*.py")):
        if "migrations" not in path.parts:
            yield path


def sql_literals(path):
    """(line, text) of each SQL-looking literal of a module: constants and f-strings' literal parts."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            # SQL comments are prose: a column's name may be mentioned there.
            text = re.sub(r"--[^\n]*", "", node.value)
            if SQL_LOOKING.search(text):
                yield node.lineno, text


def handwritten(text, forbidden):
    return sorted({word for word in WORD.findall(text) if word in forbidden})


def test_the_scan_sees_the_statements_of_the_layer():
    # Guards the test itself: were the scan blind (no SQL found), the tests below would pass vacuously.
    found = [text for path in SQL_LAYER.glob("*.py") for _, text in sql_literals(path)]
    assert len(found) > 30
    assert any("FOR UPDATE SKIP LOCKED" in text for text in found)


def test_the_scan_catches_a_handwritten_name(tmp_path):
    module = tmp_path / "module.py"
    module.write_text('def f(cursor):\n    cursor.execute(f"DELETE FROM steady_queue_job WHERE {x} = %s")\n')
    tables, columns = names()
    assert [handwritten(text, tables | columns) for _, text in sql_literals(module)] == [["steady_queue_job"]]


@pytest.mark.parametrize("path", list(sources()), ids=lambda path: str(path.relative_to(PACKAGES)))
def test_no_sql_names_a_table_or_column_by_hand(path):
    tables, columns = names()
    # Outside the layer even a table's name is out of place; inside, the names come from Table.
    problems = [
        f"line {line}: {', '.join(words)}"
        for line, text in sql_literals(path)
        if (words := handwritten(text, tables | columns))
    ]
    assert not problems, f"{path.name} writes SQL names by hand (take them from steady_queue.sql.Table): {problems}"
