from django.utils import timezone

from steady_queue.console import stats
from steady_queue.console.sparkline import sparkline
from steady_queue.console.statuses import STATUSES

from .base import ConsolePage


class OverviewPage(ConsolePage):
    """Counts per state, the last hour per minute, each queue's latency and the processes at a glance."""

    template_name = "steady_queue/console/overview.html"
    title = "Steady Queue"
    section = "overview"

    def get_context_data(self, **kwargs):
        now = timezone.now()
        counts = stats.status_counts()
        activity = stats.activity(now)
        queues = stats.queues(now)
        names = sorted({queue.name for queue in queues} | set(activity.waits))
        current = {queue.name: queue for queue in queues}
        empty = [0.0] * len(activity.starts)
        return super().get_context_data(
            statuses=[(status, counts[slug]) for slug, status in STATUSES.items()],
            succeeded=sum(activity.succeeded),
            failed=sum(activity.failed),
            succeeded_chart=sparkline(activity.succeeded, label="Tasks that succeeded per minute, last hour"),
            failed_chart=sparkline(activity.failed, label="Tasks that failed per minute, last hour"),
            queues=[
                {
                    "name": name,
                    "stats": current.get(name),
                    "chart": sparkline(
                        activity.waits.get(name, empty), label=f"Longest wait per minute in {name}, last hour"
                    ),
                }
                for name in names
            ],
            processes=sorted(stats.process_counts(now).items()),
            window_start=activity.starts[0],
            **kwargs,
        )
