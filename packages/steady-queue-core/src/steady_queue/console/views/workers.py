from django.utils import timezone

from steady_queue.conf import get_config
from steady_queue.console import stats
from steady_queue.console.access import VIEW_PROCESSES

from .base import ConsolePage


class WorkersPage(ConsolePage):
    """Every registered process: what it is, where, its heartbeat (stale ones marked) and the tasks it runs."""

    template_name = "steady_queue/console/workers.html"
    title = "Workers and other processes"
    section = "workers"
    permission_required = VIEW_PROCESSES

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            processes=stats.processes(timezone.now()),
            alive_threshold=get_config().process_alive_threshold.total_seconds(),
            **kwargs,
        )
