"""No SQL of Steady Queue's relies on session state, so that it works through a transaction-pooling PgBouncer.

There, each transaction may run on a different server connection: a SET, an advisory lock, a
prepared statement, a temporary table or a cursor held past its transaction would be lost or leak to
another client. LISTEN is the one exception, on the listener's own connection (worker/notify.py). Prepared
statements of the protocol (not SQL), which STEADY_QUEUE["prepared_statements"] turns on, are off in
a PgBouncer deployment, as the suite runs through PgBouncer (tests/settings.py).
The scan reads every string literal of the code that runs on PostgreSQL (docstrings aside).
"""

import ast
import re
from pathlib import Path

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
# Run on other databases only: PgBouncer never sees their SQL.
OTHER_DATABASES = {"sql/sqlite.py", "sql/mysql.py"}
LISTENER = "worker/notify.py"
# DISCARD PLANS only makes the connection plan its own prepared statements again, and runs only
# where they are on (sql/postgresql.py, refresh_plans): never through a transaction-pooling PgBouncer.
PLANS = ("sql/postgresql.py", "DISCARD PLANS")

STATEMENT = re.compile(r"(^|;)\s*(SET|RESET|DISCARD|PREPARE|DECLARE|LISTEN|UNLISTEN)\b")
ANYWHERE = re.compile(r"pg_(try_)?advisory|set_config\s*\(|\bTEMP(ORARY)?\s+TABLE\b|\bWITH\s+HOLD\b", re.IGNORECASE)


def literals(tree):
    """Each string literal's text, an f-string's expressions as {}; docstrings and bare strings left out."""
    bare = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    bare |= {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if id(node) in bare:
            continue
        if isinstance(node, ast.JoinedStr):
            yield node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def offending_sql():
    found = []
    for path in sorted(PACKAGES.glob("*/src/steady_queue/**/*.py")):
        relative = path.relative_to(PACKAGES).as_posix()
        if any(relative.endswith(name) for name in OTHER_DATABASES):
            continue
        for line, text in literals(ast.parse(path.read_text())):
            statement = STATEMENT.search(text)
            if statement and statement.group(2) == "LISTEN" and relative.endswith(LISTENER):
                continue
            if relative.endswith(PLANS[0]) and text.strip() == PLANS[1]:
                continue
            if statement or ANYWHERE.search(text):
                found.append(f"{relative}:{line}: {text[:80]!r}")
    return found


def test_the_code_uses_no_session_state():
    assert offending_sql() == []


def test_the_scan_finds_what_it_looks_for():
    sample = ast.parse('sql = "SET statement_timeout = 0"\nlock = f"SELECT pg_advisory_lock({key})"\n"""SET aside"""')
    texts = [text for _, text in literals(sample)]
    assert texts == ["SET statement_timeout = 0", "SELECT pg_advisory_lock({})"]
    assert STATEMENT.search(texts[0]) and ANYWHERE.search(texts[1])
    assert not STATEMENT.search("UPDATE job SET finished_at = now()")
