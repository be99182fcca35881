from django.core.management.base import BaseCommand, CommandError

from steady_queue.models import Job
from steady_queue.queues import pause, paused_queues, resume


class Command(BaseCommand):
    help = (
        "Pause queues: workers stop taking their tasks (running tasks finish) until they are resumed. "
        "Without queue names, list the paused queues."
    )

    def add_arguments(self, parser):
        parser.add_argument("queues", nargs="*", metavar="QUEUE", help="Names of the queues to pause.")
        parser.add_argument(
            "--resume", action="store_true", dest="resuming", help="Resume the named queues instead of pausing them."
        )

    def handle(self, *args, queues, resuming, **options):
        if not queues:
            if resuming:
                raise CommandError("--resume needs the names of the queues to resume.")
            names = paused_queues()
            self.stdout.write("\n".join(names) if names else "No queue is paused.")
            return
        for name in queues:
            try:
                changed = resume(name) if resuming else pause(name)
            except ValueError as error:
                raise CommandError(str(error)) from error
            if changed:
                self.stdout.write(f"{'Resumed' if resuming else 'Paused'} {name}")
                if not resuming and not Job.objects.filter(queue_name=name).exists():
                    # Any name is accepted when a backend has no QUEUES; a typo deserves a word.
                    self.stderr.write(f"No task has been enqueued to {name!r} yet: is the name right?")
            else:
                self.stdout.write(f"{name} was already {'running' if resuming else 'paused'}")
