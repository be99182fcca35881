"""The steps of tests/docs/examples.py, run inside the new project (its folder is the working directory).

Reads the steps as JSON on stdin. Python steps share one namespace, like one shell session; a step
that fails, or an expression that does not equal the literal in its comment, ends the run.
"""

import ast
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.getcwd())


def run_python(code, namespace):
    tree = ast.parse(code)
    lines = code.splitlines()
    for node in tree.body:
        if isinstance(node, ast.Expr):
            value = eval(compile(ast.Expression(node.value), "<doc>", "eval"), namespace)
            expected = _expected(lines[node.end_lineno - 1][node.end_col_offset :])
            if expected is not None and value != expected[0]:
                raise AssertionError(
                    f"{ast.get_source_segment(code, node)} is {value!r}; the documentation says {expected[0]!r}"
                )
        else:
            exec(compile(ast.Module([node], type_ignores=[]), "<doc>", "exec"), namespace)


def _expected(rest):
    """The literal in a trailing comment, as a 1-tuple, or None when the comment is prose."""
    rest = rest.strip()
    if not rest.startswith("#"):
        return None
    try:
        return (ast.literal_eval(rest[1:].strip()),)
    except (ValueError, SyntaxError):
        return None


def run_command(command, workers):
    argv = command.split()
    if argv[0] == "pip":
        print("  (handled by examples.py, before the project was made)")
        return
    if argv[0] == "python":
        argv[0] = sys.executable
    if argv[1:3] == ["manage.py", "steady_queue"]:
        log = open("steady_queue.log", "w")  # noqa: SIM115 (closed with the process)
        # A session of its own, so that the Ctrl-C at the end can go to its whole process group.
        workers.append((subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True), log))
        wait_until_drained(workers[-1][0])
        return
    subprocess.run(argv, check=True)


def wait_until_drained(process, timeout=90):
    """Until no task that could run now is waiting or running."""
    from django.db import close_old_connections
    from django.utils import timezone

    from steady_queue.models import BlockedExecution, ClaimedExecution, ReadyExecution, ScheduledExecution

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"manage.py steady_queue exited with status {process.returncode}")
        close_old_connections()
        waiting = (
            ReadyExecution.objects.count()
            + ClaimedExecution.objects.count()
            + BlockedExecution.objects.count()
            + ScheduledExecution.objects.filter(scheduled_at__lte=timezone.now()).count()
        )
        if not waiting:
            return
        time.sleep(0.2)
    raise AssertionError(f"tasks still waiting after {timeout} s")


def stop(workers):
    for process, log in workers:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        status = process.wait(timeout=60)
        log.close()
        with open(log.name) as handle:
            print("".join(f"  | {line}" for line in handle))
        if status != 0:
            raise AssertionError(f"manage.py steady_queue exited with status {status} after Ctrl-C")


def main():
    import django

    django.setup()
    from steady_queue.models import FailedExecution, Job

    steps = json.load(sys.stdin)
    namespace, workers = {"__name__": "__doc__"}, []
    try:
        for number, step in enumerate(steps, 1):
            print(f"step {number}: {step.get('command') or step['code'].splitlines()[0]}")
            if step["kind"] == "python":
                run_python(step["code"], namespace)
            else:
                run_command(step["command"], workers)
    finally:
        stop(workers)
    finished = Job.objects.filter(finished_at__isnull=False).count()
    failed = FailedExecution.objects.count()
    print(f"{len(steps)} steps run; {Job.objects.count()} tasks enqueued, {finished} finished, {failed} failed")
    if failed or not finished:
        raise AssertionError("every task that ran must have succeeded, and at least one must have run")


if __name__ == "__main__":
    main()
