"""The three distributions: core works alone, the wheels build and hold only their own modules."""

import json
import subprocess
import sys
import venv

import pytest

from tests.packaging.dist import HOST_CHECK, PACKAGES, ROOT, build, holds_its_own, top_dirs


def run_host_check(python, tmp_path, *flags):
    completed = subprocess.run(
        [python, str(HOST_CHECK), str(tmp_path / "web.sqlite3"), *flags],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_a_web_host_needs_neither_worker_nor_cron(tmp_path):
    report = run_host_check(sys.executable, tmp_path, "--block-runtime")
    assert report["status"] == "READY"
    assert report["args"] == ["web", {"__sq__": "datetime", "v": "2026-01-01T00:00:00+00:00"}]
    assert report["runtime_imported"] == []
    assert report["command_module"] == "steady_queue.management.commands.steady_queue"
    assert "steady-queue-worker is not installed" in report["command_error"]
    assert "docs/installation.rst" in report["command_error"]


def test_versions_of_the_three_distributions_agree():
    import tomllib

    import steady_queue

    projects = [tomllib.loads((ROOT / "packages" / p / "pyproject.toml").read_text())["project"] for p in PACKAGES]
    assert {p["version"] for p in projects} == {steady_queue.__version__}
    for project in projects[1:]:
        pins = [d for d in project["dependencies"] if d.startswith("steady-queue-")]
        assert pins and all(pin.endswith(f"=={steady_queue.__version__}") for pin in pins)


@pytest.mark.slow
def test_wheels_build_and_core_alone_installs_and_enqueues(tmp_path):
    wheels = build(tmp_path / "dist", sdist=False)
    assert all(holds_its_own(package, wheel) for package, wheel in wheels.items())
    assert "steady_queue/__init__.py" in top_dirs(wheels["steady-queue-core"])
    assert "steady_queue/migrations" in top_dirs(wheels["steady-queue-core"])
    assert top_dirs(wheels["steady-queue-worker"]) == {"steady_queue/worker"}
    assert top_dirs(wheels["steady-queue-cron"]) == {"steady_queue/cron"}

    env_dir = tmp_path / "web-host"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", str(wheels["steady-queue-core"])], check=True, timeout=600
    )
    report = run_host_check(python, tmp_path)
    assert report["status"] == "READY"
    assert report["distributions"]["steady-queue-core"] == "0.1.0"
    assert report["distributions"]["steady-queue-worker"] is None
    assert report["runtime_imported"] == []
    assert "steady-queue-worker is not installed" in report["command_error"]
