"""``manage.py demo``: enqueue a few shop tasks, run them with ``manage.py steady_queue``, show progress."""

import datetime
import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections
from django.tasks import default_task_backend
from django.utils import timezone

from shop.models import Customer
from shop.tasks import add, build_sales_report, refuse_refund, send_welcome_email


class Command(BaseCommand):
    help = (
        "Migrate the demo database, enqueue a few tasks, then run 'manage.py steady_queue' until they "
        "have all finished, showing their status as it changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=30, help="Give up after this many seconds.")

    def handle(self, *args, timeout, **options):
        # A fresh database each time: the demo shows a run from scratch.
        connections.close_all()
        database = Path(settings.DATABASES["default"]["NAME"])
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        call_command("migrate", verbosity=0)
        self.stdout.write(self.style.MIGRATE_HEADING("Enqueueing tasks"))
        results = self.enqueue()
        for label, result in results:
            self.stdout.write(f"  {result.id:<20} {label}")
        self.stdout.write(self.style.MIGRATE_HEADING("Status"))
        self.show(results)
        if importlib.util.find_spec("steady_queue.worker") is None:
            self.stdout.write("Install the steady-queue-worker distribution to run them: see docs/installation.rst.")
            return
        self.run_worker(results, timeout)
        self.stdout.write(
            "See them in the operator console: python docs/example/manage.py createsuperuser, then "
            "python docs/example/manage.py runserver and open http://127.0.0.1:8000/admin/steady-queue/"
        )

    def run_worker(self, results, timeout):
        self.stdout.write(self.style.MIGRATE_HEADING("Running python manage.py steady_queue"))
        # The command's log lines and this progress share the terminal, or one file with
        # "> out.txt 2>&1": everything is written at once (flushed, unbuffered) to stay in order.
        self.stdout.flush()
        supervisor = subprocess.Popen([sys.executable, "-u", sys.argv[0], "steady_queue"])
        try:
            deadline = time.monotonic() + timeout
            seen = {}
            while time.monotonic() < deadline:
                time.sleep(0.25)
                current = {r.id: default_task_backend.get_result(r.id).status for _, r in results}
                if current != seen:
                    seen = current
                    counts = {s: list(current.values()).count(s) for s in ("READY", "RUNNING", "SUCCESSFUL", "FAILED")}
                    self.stdout.write(
                        self.style.SUCCESS("  progress: ")
                        + ", ".join(f"{n} {s.lower()}" for s, n in counts.items())
                    )
                    self.stdout.flush()
                if all(status in ("SUCCESSFUL", "FAILED") for status in current.values()):
                    break
        finally:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(timeout=30)
        self.stdout.write(self.style.MIGRATE_HEADING("Final status"))
        self.show(results)

    def enqueue(self):
        ada, _ = Customer.objects.get_or_create(name="Ada", email="ada@example.com")
        grace, _ = Customer.objects.get_or_create(name="Grace", email="grace@example.com")
        today = timezone.localdate()
        return [
            ("welcome e-mail to Ada (queue email, priority 10)", send_welcome_email.enqueue(ada)),
            ("welcome e-mail to Grace", send_welcome_email.enqueue(grace)),
            ("sales report for today (queue reports)", build_sales_report.enqueue(today)),
            (
                "sales report for yesterday, in 3 seconds",
                build_sales_report.using(run_after=datetime.timedelta(seconds=3)).enqueue(
                    today - datetime.timedelta(days=1)
                ),
            ),
            ("add(2, 3) with priority -5", add.using(priority=-5).enqueue(2, 3)),
            ("a refund that fails on purpose", refuse_refund.enqueue(1017)),
        ] + [(f"add({n}, {n}) in bulk", r) for n, r in enumerate(add.enqueue_many([(n, n) for n in range(3)]))]

    def show(self, results):
        for label, result in results:
            result = default_task_backend.get_result(result.id)
            detail = ""
            if result.status == "SUCCESSFUL":
                detail = f"-> {result.return_value!r}"
            elif result.status == "FAILED":
                detail = f"-> {result.errors[-1].traceback.strip().splitlines()[-1]}"
            elif result.task.run_after and result.task.run_after > timezone.now():
                detail = f"(runs after {result.task.run_after:%H:%M:%S})"
            self.stdout.write(f"  {result.id:<20} {result.status:<10} {label} {detail}")
