"""Build the three distributions into dist/, check them, and install them the ways the docs show.

Usage: python tests/packaging/dist.py [--out DIR] [--keep-venvs]
Run by ``./dev dist``. Builds a wheel and an sdist of each package under packages/ (``python -m
build``, which builds the wheel from the sdist), runs ``twine check --strict`` on them, then installs
them into new virtual environments in each way docs/installation.rst describes and runs
host_check.py in each. Prints what it checks; exits non-zero if a check fails or a command does.

The test suite imports build() from here, so that the wheels are built one way only.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import venv
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["steady-queue-core", "steady-queue-worker", "steady-queue-cron"]
HOST_CHECK = Path(__file__).with_name("host_check.py")
VERSION = tomllib.loads((ROOT / "packages" / PACKAGES[0] / "pyproject.toml").read_text())["project"]["version"]


class CheckFailed(Exception):
    pass


def run(command, **kwargs):
    """Run a command; on failure raise CheckFailed with its output."""
    completed = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    if completed.returncode != 0:
        raise CheckFailed(
            f"{' '.join(map(str, command))} exited {completed.returncode}\n{completed.stdout}{completed.stderr}"
        )
    return completed.stdout


def build(out, sdist=True):
    """Build each package's wheel (and sdist) into out; return {distribution name: wheel path}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    formats = ["--sdist", "--wheel"] if sdist else ["--wheel"]
    for package in PACKAGES:
        run([sys.executable, "-m", "build", "-q", *formats, "--outdir", out, ROOT / "packages" / package], timeout=300)
    wheels = {package: out / f"{package.replace('-', '_')}-{VERSION}-py3-none-any.whl" for package in PACKAGES}
    missing = [str(w.name) for w in wheels.values() if not w.exists()]
    if missing:
        raise CheckFailed(f"not built: {', '.join(missing)}")
    return wheels


def top_dirs(wheel):
    """The first two levels of the wheel's paths, leaving out its .dist-info."""
    names = zipfile.ZipFile(wheel).namelist()
    return {"/".join(n.split("/")[:2]) for n in names if not n.split("/")[0].endswith(".dist-info")}


def holds_its_own(package, wheel):
    """steady_queue/__init__.py is core's; worker and cron each add one directory and nothing else."""
    owned = top_dirs(wheel)
    if package == "steady-queue-core":
        return {"steady_queue/__init__.py", "steady_queue/migrations"} <= owned and not owned & {
            "steady_queue/worker",
            "steady_queue/cron",
        }
    return owned == {"steady_queue/" + package.rsplit("-", 1)[1]}


def new_venv(path):
    venv.create(path, with_pip=True)
    return path / "bin" / "python"


def scenarios(dist, wheels):
    """(the host, the pip install arguments, the distributions they must leave installed), as the docs show them."""
    core, worker, cron = (wheels[p] for p in PACKAGES)
    packages = ROOT / "packages"
    web, job, scheduler = {"steady-queue-core"}, {"steady-queue-core", "steady-queue-worker"}, set(PACKAGES)
    return [
        ("web host", [core], web),
        ("job host", [core, worker], job),
        ("scheduler host", sorted(dist.glob("steady_queue_*.whl")), scheduler),
        ("scheduler host", ["--find-links", dist, "steady-queue-cron"], scheduler),
        ("job host, from the checkout", [packages / "steady-queue-core", packages / "steady-queue-worker"], job),
    ]


def shown(arguments):
    """The pip arguments as typed at the root of the checkout."""
    return " ".join(
        f"./{a.relative_to(ROOT)}" if isinstance(a, Path) and a.is_relative_to(ROOT) else str(a) for a in arguments
    )


def install_and_check(home, arguments, expected):
    """A new venv in home, pip install arguments, then host_check.py; the checks as (label, passed)."""
    python = new_venv(home / "venv")
    run([python, "-m", "pip", "install", "-q", *arguments], timeout=600)
    return check_host(python, home / "work", expected)


def check_host(python, work, expected):
    """Run host_check.py with the venv's Python, away from the checkout; compare with what is expected."""
    work.mkdir()
    # -I: neither PYTHONPATH nor the checkout can supply steady_queue, only the venv.
    output = run([python, "-I", HOST_CHECK, work / "host.sqlite3"], cwd=work, timeout=120)
    report = json.loads(output.strip().splitlines()[-1])
    worker, cron = "steady-queue-worker" in expected, "steady-queue-cron" in expected
    versions = {name: VERSION if name in expected else None for name in PACKAGES}
    checks = [
        ("installed distributions", {n: report["distributions"][n] for n in PACKAGES} == versions),
        ("the unrelated steady-queue is absent", report["distributions"]["steady-queue"] is None),
        ("steady_queue imported from the venv", report["imported_from"].startswith(str(python.parent.parent))),
        ("a task enqueued and read back", report["status"] == "READY"),
        (
            "steady_queue.worker importable" if worker else "steady_queue.worker absent",
            report["worker_importable"] is worker,
        ),
        ("steady_queue.cron importable" if cron else "steady_queue.cron absent", report["cron_importable"] is cron),
        ("manage.py steady_queue --help", report["command_has_help"]),
    ]
    if worker:
        is_the_workers = report["command_module"] == "steady_queue.worker.command"
        checks.append(("manage.py steady_queue is the worker's", is_the_workers))
    else:
        checks.append(
            (
                "manage.py steady_queue says what to install",
                "steady-queue-worker is not installed" in (report["command_error"] or "")
                and "docs/installation.rst" in report["command_error"],
            )
        )
    if cron:
        checks.append(
            (
                "the scheduler entry point loads",
                report["processes"].get("scheduler") == "steady_queue.cron.scheduler.Scheduler",
            )
        )
    else:
        checks.append(("no scheduler entry point", report["processes"] == {}))
    return checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "dist",
        help="where to build (default dist/; the files of an earlier build there go first)",
    )
    parser.add_argument("--keep-venvs", action="store_true", help="print and keep the temporary environments")
    options = parser.parse_args()
    options.out = options.out.resolve()
    started = time.monotonic()
    failed = []

    def report(label, ok):
        print(f"  {'ok  ' if ok else 'FAIL'} {label}", flush=True)
        if not ok:
            failed.append(label)

    # Only what an earlier run built goes: --out may name a directory that holds other files.
    for old in options.out.glob("steady_queue_*"):
        old.unlink()
    print(f"Building wheels and sdists into {shown([options.out])}", flush=True)
    wheels = build(options.out)
    built = sorted(options.out.glob("steady_queue_*"))
    for path in built:
        print(f"  {path.name}")
    report("a wheel and an sdist of each distribution", len(built) == 2 * len(PACKAGES))
    for package, wheel in wheels.items():
        report(f"{wheel.name} holds {package}'s modules and no others", holds_its_own(package, wheel))

    print("twine check --strict dist/*", flush=True)
    output = run([sys.executable, "-m", "twine", "--no-color", "check", "--strict", *built], timeout=120)
    for line in output.splitlines():
        print(f"  {line}")

    # The environments are set up side by side (pip spends much of its time waiting on files); the
    # checks are printed in order.
    venvs = Path(tempfile.mkdtemp(prefix="steady-queue-dist-"))
    try:
        hosts = scenarios(options.out, wheels)
        with ThreadPoolExecutor(max_workers=3) as pool:
            running = [
                pool.submit(install_and_check, venvs / f"host{number}", arguments, expected)
                for number, (_, arguments, expected) in enumerate(hosts, 1)
            ]
            for (host, arguments, _), future in zip(hosts, running, strict=True):
                print(f"A new venv for a {host}: pip install {shown(arguments)}", flush=True)
                try:
                    checks = future.result()
                except CheckFailed as error:
                    checks = [(str(error).rstrip(), False)]
                for check, ok in checks:
                    report(check, ok)
    finally:
        if options.keep_venvs:
            print(f"Environments kept in {venvs}")
        else:
            shutil.rmtree(venvs, ignore_errors=True)

    elapsed = time.monotonic() - started
    if failed:
        print(f"{len(failed)} check(s) failed in {elapsed:.0f}s: {'; '.join(failed)}")
        return 1
    print(f"All checks passed in {elapsed:.0f}s; the distributions are in {options.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        sys.exit(1)
