"""Run the README's and getting-started's examples as a newcomer would: in a new project, in order.

    python tests/docs/examples.py README.md --database sqlite
    python tests/docs/examples.py docs/getting-started.rst --database postgres

Each document gets a project of its own (``django-admin startproject`` and an app called ``shop``).
A Python block whose first line is a file name (``# settings.py``, or ``:caption: shop/tasks.py`` in
reStructuredText) is appended to that file before anything runs; the other Python blocks run in
order in one interpreter, as one ``manage.py shell`` session would; each line of a bash block runs
as a command, ``python manage.py steady_queue`` in the background until the tasks it can run have
finished, then stopped with the SIGINT of a Ctrl-C. An expression followed by a comment holding a
Python literal (``result.status  # "READY"``) must equal it.

The project gets a new virtual environment of its own. The document's ``pip install`` lines run
first, from the repository's root as its docs say (a document without one gets the three packages
installed from the checkout, as docs/installation.rst says); for PostgreSQL, psycopg is added as
the installation page says. ``--here`` uses this interpreter instead and skips the pip lines.

In settings.py, ``...`` or a ``# ...`` line in a list stands for what the list already held.
Exits non-zero, saying which block failed, when anything does not work as written.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SESSION = Path(__file__).with_name("session.py")
PACKAGES = ["steady-queue-core", "steady-queue-worker", "steady-queue-cron"]
FILE_TARGET = re.compile(r"^#\s*([\w/]+\.py)\s*$")


def markdown_blocks(text):
    """(language, code) of the fenced blocks between the doc-test markers."""
    start = text.index("<!-- doc-test: start")
    end = text.index("<!-- doc-test: end -->")
    return [
        (language, code)
        for language, code in re.findall(r"^```(\w+)\n(.*?)^```", text[start:end], flags=re.M | re.S)
    ]


def rst_blocks(text):
    """(language, code) of every code-block; a ``:caption:`` becomes a first-line ``# file`` comment."""
    blocks = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = re.match(r"^(\s*)\.\. code-block:: (\w+)\s*$", lines[index])
        index += 1
        if not match:
            continue
        indent, language = len(match.group(1)), match.group(2)
        caption = None
        while index < len(lines) and re.match(r"^\s+:\w+:", lines[index]):
            option = re.match(r"^\s+:caption:\s*(.+)$", lines[index])
            caption = option.group(1).strip() if option else caption
            index += 1
        body = []
        while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > indent):
            body.append(lines[index])
            index += 1
        code = _dedent(body)
        blocks.append((language, f"# {caption}\n{code}" if caption else code))
    return blocks


def _indent(line):
    return len(line) - len(line.lstrip())


def _dedent(lines):
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    margin = min(_indent(line) for line in lines if line.strip())
    return "\n".join(line[margin:] for line in lines) + "\n"


def steps_of(blocks):
    """Split blocks into files to write and steps to run."""
    files, steps = {}, []
    for language, code in blocks:
        first, _, rest = code.partition("\n")
        target = FILE_TARGET.match(first) if language == "python" else None
        if target:
            files.setdefault(target.group(1), []).append(rest)
        elif language == "python":
            steps.append({"kind": "python", "code": code})
        elif language in ("bash", "console", "shell"):
            for line in code.splitlines():
                command = line.split(" #", 1)[0].strip()
                if command and not command.startswith("#"):
                    steps.append({"kind": "command", "command": command})
    return files, steps


def settings_text(code):
    """Doc shorthand for 'what was there before' made real: [..., "x"] and a "# ..." line in a list."""
    code = re.sub(r"^(\w+) = \[\.\.\., ", r"\1 = [*\1, ", code, flags=re.M)
    lines, current = [], None
    for line in code.splitlines():
        opening = re.match(r"^(\w+) = \[\s*$", line)
        if opening:
            current = opening.group(1)
        if line.strip() == "# ..." and current:
            line = line.replace("# ...", f"*{current},")
        lines.append(line)
    return "\n".join(lines) + "\n"


def make_environment(directory, steps, database):
    """A new virtual environment with what the document (or the installation page) installs."""
    import venv

    venv.create(directory / "venv", with_pip=True)
    python = str(directory / "venv/bin/python")
    commands = [step["command"].split() for step in steps if step.get("command", "").startswith("pip ")]
    if not commands:
        commands = [["pip", "install", *[f"./packages/{name}" for name in PACKAGES]]]
    if database is not None:
        commands.append(["pip", "install", "psycopg[binary]>=3.2"])
    for command in commands:
        print(f"  $ {' '.join(command)}")
        subprocess.run([python, "-m", *command, "--quiet", "--disable-pip-version-check"], cwd=ROOT, check=True)
    return python


def make_project(directory, files, database, python):
    directory = directory / "project"
    directory.mkdir()
    subprocess.run([python, "-m", "django", "startproject", "mysite", str(directory)], check=True)
    subprocess.run([python, "manage.py", "startapp", "shop"], cwd=directory, check=True)
    for name, parts in files.items():
        path = directory / ("mysite/settings.py" if name == "settings.py" else name)
        text = "\n\n".join(settings_text(part) if name == "settings.py" else part for part in parts)
        with path.open("a") as handle:
            handle.write("\n\n# From the documentation:\n" + text)
    if database is not None:
        with (directory / "mysite/settings.py").open("a") as handle:
            handle.write(f"\n\n# The doc test's PostgreSQL database.\nDATABASES = {{'default': {database!r}}}\n")
    return directory


def postgres_database():
    import psycopg

    settings = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "PASSWORD": os.environ.get("PGPASSWORD", "postgres"),
        "NAME": f"sq_doc_examples_{uuid.uuid4().hex[:8]}",
    }
    admin = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], password=settings["PASSWORD"],
        dbname="postgres", autocommit=True,
    )

    def drop():
        admin.execute(f'DROP DATABASE IF EXISTS "{settings["NAME"]}" WITH (FORCE)')
        admin.close()

    admin.execute(f'CREATE DATABASE "{settings["NAME"]}"')
    return settings, drop


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("document", type=Path, help="README.md or a .rst page, relative to the repository.")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--keep", action="store_true", help="Keep the project folder and print where it is.")
    parser.add_argument(
        "--here", action="store_true", help="Use this interpreter's packages instead of a new environment."
    )
    options = parser.parse_args()
    path = options.document if options.document.is_absolute() else ROOT / options.document
    text = path.read_text()
    blocks = markdown_blocks(text) if path.suffix == ".md" else rst_blocks(text)
    files, steps = steps_of(blocks)
    print(f"{path.name}: {len(blocks)} blocks; files {', '.join(files)}; {len(steps)} steps; {options.database}")
    database, drop = postgres_database() if options.database == "postgres" else (None, lambda: None)
    directory = Path(tempfile.mkdtemp(prefix="sq-doc-"))
    try:
        python = sys.executable if options.here else make_environment(directory, steps, database)
        project = make_project(directory, files, database, python)
        environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "mysite.settings", "PYTHONUNBUFFERED": "1"}
        completed = subprocess.run(
            [python, str(SESSION)], input=json.dumps(steps), text=True, cwd=project, env=environment
        )
    finally:
        drop()
        if options.keep:
            print(f"Project kept in {directory}")
        else:
            subprocess.run(["rm", "-rf", str(directory)], check=False)
    sys.exit(completed.returncode)


if __name__ == "__main__":
    main()
