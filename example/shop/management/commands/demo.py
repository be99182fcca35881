"""``manage.py demo``: enqueue a few shop tasks and show what becomes of them."""

import datetime

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.tasks import default_task_backend
from django.utils import timezone

from shop.models import Customer
from shop.tasks import add, build_sales_report, refuse_refund, send_welcome_email


class Command(BaseCommand):
    help = "Migrate the demo database, enqueue a few tasks and show their status."

    def handle(self, *args, **options):
        call_command("migrate", verbosity=0)
        self.stdout.write(self.style.MIGRATE_HEADING("Enqueueing tasks"))
        results = self.enqueue()
        for label, result in results:
            self.stdout.write(f"  #{result.id:<5} {label}")
        self.stdout.write(self.style.MIGRATE_HEADING("Status"))
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
            self.stdout.write(f"  #{result.id:<5} {result.status:<10} {label} {detail}")
