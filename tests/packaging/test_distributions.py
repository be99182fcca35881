"""The three distributions: core works alone, the wheels build and hold only their own modules."""

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("core_only.py")
PACKAGES = ["steady-queue-core", "steady-queue-worker", "steady-queue-cron"]


def run_core_only(python, tmp_path, *flags):
    completed = subprocess.run(
        [python, str(SCRIPT), str(tmp_path / "web.sqlite3"), *flags],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_a_web_host_needs_neither_worker_nor_cron(tmp_path):
    report = run_core_only(sys.executable, tmp_path, "--block-runtime")
    assert report["status"] == "READY"
    assert report["args"] == ["web", {"__sq__": "datetime", "v": "2026-01-01T00:00:00+00:00"}]
    assert report["runtime_imported"] == []
    assert "steady-queue-worker is not installed" in report["command_error"]


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
    dist = tmp_path / "dist"
    for package in PACKAGES:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT / "packages" / package)],
            check=True,
            timeout=300,
        )
    wheels = {w.name.split("-")[0]: w for w in dist.glob("*.whl")}
    assert set(wheels) == {"steady_queue_core", "steady_queue_worker", "steady_queue_cron"}

    def top_dirs(wheel):
        names = zipfile.ZipFile(wheel).namelist()
        return {"/".join(n.split("/")[:2]) for n in names if not n.split("/")[0].endswith(".dist-info")}

    assert "steady_queue/__init__.py" in top_dirs(wheels["steady_queue_core"])
    assert "steady_queue/migrations" in top_dirs(wheels["steady_queue_core"])
    assert top_dirs(wheels["steady_queue_worker"]) == {"steady_queue/worker"}
    assert top_dirs(wheels["steady_queue_cron"]) == {"steady_queue/cron"}

    env_dir = tmp_path / "web-host"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", str(wheels["steady_queue_core"])], check=True, timeout=600
    )
    report = run_core_only(python, tmp_path)
    assert report["status"] == "READY"
    assert report["runtime_imported"] == []
    assert "steady-queue-worker is not installed" in report["command_error"]
