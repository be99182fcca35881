import getpass
import socket

from django.core.management.base import BaseCommand, CommandError

from steady_queue.cancellation import cancel, cancel_many
from steady_queue.models import ClaimedExecution, Job
from steady_queue.models.job import parse_result_id


class Command(BaseCommand):
    help = (
        "Cancel tasks that have not started (ready, scheduled or blocked): they never run, and their result "
        "reads FAILED with a TaskCancelled error. Name tasks by result id, or select them with --queue "
        "and --task (both given: tasks matching both). A running task is not stopped; cancelling it by "
        "result id records a request its code can check with steady_queue.cancellation.cancel_requested()."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "result_ids", nargs="*", metavar="RESULT_ID", help="Result ids (TaskResult.id) of the tasks to cancel."
        )
        parser.add_argument(
            "--queue",
            dest="queue_name",
            metavar="QUEUE",
            help="Cancel every waiting task of this queue (exact name). With result ids, only those in it.",
        )
        parser.add_argument(
            "--task",
            dest="task_path",
            metavar="PATH",
            help="Cancel every waiting task of this task, by its dotted path (myapp.tasks.send_email). "
            "With result ids, only those of it.",
        )

    def handle(self, *args, result_ids, queue_name, task_path, **options):
        if not (result_ids or queue_name or task_path):
            raise CommandError("Name the tasks to cancel: result ids, --queue QUEUE or --task PATH.")
        malformed = [value for value in result_ids if parse_result_id(value) is None]
        if malformed:
            raise CommandError(f"Not a result id: {', '.join(malformed)} (they look like 42-1f0c9a7be3d25586).")
        by = f"manage.py steady_queue_cancel ({_user()} on {socket.gethostname()})"
        if queue_name is None and task_path is None:
            unknown = [result_id for result_id in result_ids if not self._cancel_one(result_id, by)]
            if unknown:
                raise CommandError(f"No task has the result id {', '.join(unknown)}.")
            return
        count = cancel_many(queue_name=queue_name, task_path=task_path, result_ids=result_ids or None, by=by)
        self.stdout.write(f"Cancelled {count} task(s).")
        if not count:
            self._explain_nothing(queue_name, task_path)

    def _cancel_one(self, result_id, by):
        """Cancel one task and say what happened; False if there is no such task."""
        if cancel(result_id, by=by):
            self.stdout.write(f"Cancelled {result_id}")
            return True
        pk, token = parse_result_id(result_id)
        job = Job.objects.filter(pk=pk, token=token).first()
        if job is None:
            return False
        if ClaimedExecution.objects.filter(job_id=pk).exists():
            self.stdout.write(f"{result_id} is running: cancellation requested (its code decides whether to stop)")
        elif job.finished_at is not None:
            self.stdout.write(f"{result_id} had already finished or been cancelled")
        else:
            self.stdout.write(f"{result_id} was moving between states and was not cancelled: try again")
        return True

    def _explain_nothing(self, queue_name, task_path):
        # A typo selects nothing and would say so only as "0": name what matched nothing.
        for field, value, flag in (("queue_name", queue_name, "--queue"), ("task_path", task_path, "--task")):
            if value is not None and not Job.objects.filter(**{field: value}).exists():
                self.stderr.write(f"No task has been enqueued with {flag} {value!r}: is the name right?")


def _user():
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no password entry (some containers)
        return "unknown user"
