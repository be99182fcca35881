from django.http import Http404
from django.urls import reverse
from django.utils.http import urlencode

from steady_queue.console import stats
from steady_queue.console.actions import bulk_actions, job_actions
from steady_queue.console.statuses import STATUSES
from steady_queue.queues import allowed_queue_names

from .base import ConsolePage

PAGE_SIZE = 50


def filters_from(query):
    """The list filters of a request's query string: task path and queue name, both exact."""
    return {"task": query.get("task", "").strip(), "queue": query.get("queue", "").strip()}


def list_url(slug, filters, *, view="jobs", args=(), **extra):
    """The URL of a list (or of one of its bulk actions) with its filters in the query string."""
    query = {key: value for key, value in {**filters, **extra}.items() if value}
    url = reverse(f"steady_queue_console:{view}", args=[slug, *args])
    return f"{url}?{urlencode(query)}" if query else url


class JobsPage(ConsolePage):
    """The tasks in one state, filtered by task and queue, a page at a time (keyset: Status.after())."""

    template_name = "steady_queue/console/jobs.html"
    section = "jobs"

    def get_context_data(self, slug="failed", **kwargs):
        status = STATUSES.get(slug)
        if status is None:
            raise Http404(f"No state {slug!r}.")
        filters = filters_from(self.request.GET)
        rows = status.rows(filters["task"], filters["queue"])
        after = self.request.GET.get("after", "")
        following = status.after(rows, after) if after else None
        # No key, or one that is not one (edited by hand, or from before an upgrade): the first page.
        rows = rows if following is None else following
        # One row more than a page says whether there is a next page, without counting.
        page = list(rows[: PAGE_SIZE + 1])
        jobs = [status.job(row) for row in page[:PAGE_SIZE]]
        counts = stats.status_counts(filters["task"], filters["queue"])
        user = self.request.user
        return super().get_context_data(
            title=f"{status.label} tasks",
            status=status,
            jobs=jobs,
            filters=filters,
            tabs=[(other, counts[other.slug], list_url(other.slug, filters)) for other in STATUSES.values()],
            next_url=list_url(slug, filters, after=status.page_key(page[-2])) if len(page) > PAGE_SIZE else None,
            first_url=list_url(slug, filters) if after else None,
            here=self.request.get_full_path(),
            queue_names=sorted(allowed_queue_names() or []),
            row_actions=[action for action in job_actions(slug, user) if not action.confirm],
            bulk_actions=[
                (action, list_url(slug, filters, view="bulk", args=[action.slug]))
                for action in bulk_actions(slug, user)
            ],
            **kwargs,
        )
