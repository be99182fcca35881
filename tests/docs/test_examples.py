"""The README's and getting-started's examples work as written: a new environment and project, the suite's database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", ["README.md", "docs/getting-started.rst"])
def test_the_examples_run_as_written(document):
    database = "postgres" if os.environ.get("STEADY_QUEUE_TEST_DB") == "postgres" else "sqlite"
    # The new project has settings of its own: the suite's (pytest-django exported them) would make
    # its Django load the suite's database driver, which the new environment does not have.
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tests/docs/examples.py"), document, "--database", database],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    last = completed.stdout.strip().splitlines()[-1]
    assert last.endswith(" failed") and " 0 failed" in last, last


def test_a_wrong_example_fails_the_doc_test(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert 'result.status  # "SUCCESSFUL"' in readme
    wrong = tmp_path / "README.md"
    wrong.write_text(readme.replace('result.status  # "SUCCESSFUL"', 'result.status  # "FAILED"'))
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tests/docs/examples.py"), str(wrong), "--here"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode != 0
    assert "the documentation says 'FAILED'" in completed.stderr
