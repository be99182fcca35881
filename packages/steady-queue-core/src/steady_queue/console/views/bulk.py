from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect

from steady_queue.console import stats
from steady_queue.console.access import require
from steady_queue.console.actions import BULK_BATCH, bulk_action
from steady_queue.console.statuses import STATUSES

from .base import ConsolePage
from .jobs import filters_from, list_url


class BulkActionPage(ConsolePage):
    """Retry, discard or cancel every task of a list (its filters applied), BULK_BATCH tasks per request.

    GET asks for confirmation, with the number of tasks concerned; POST acts on the first batch
    (oldest job ids first) and says how many still match, for the operator to go on or stop.
    """

    template_name = "steady_queue/console/bulk_confirm.html"
    section = "jobs"

    def setup_action(self, slug, action):
        status, chosen = STATUSES.get(slug), bulk_action(slug, action)
        if status is None or chosen is None:
            raise Http404
        require(self.request.user, chosen.permission)
        return status, chosen

    def get_context_data(self, slug, action, **kwargs):
        status, chosen = self.setup_action(slug, action)
        filters = filters_from(self.request.GET)
        return super().get_context_data(
            title=f"{chosen.label}: {status.label.lower()} tasks",
            status=status,
            action=chosen,
            filters=filters,
            count=stats.count_rows(status, filters["task"], filters["queue"]),
            batch=BULK_BATCH,
            cancel_url=list_url(slug, filters),
            **kwargs,
        )

    def post(self, request, slug, action):
        status, chosen = self.setup_action(slug, action)
        filters = filters_from(request.POST)
        rows = status.rows(filters["task"], filters["queue"]).order_by("pk")
        ids = list(rows.values_list("pk", flat=True)[:BULK_BATCH])
        done = chosen.perform(ids, request.user) if ids else 0
        left = stats.count_rows(status, filters["task"], filters["queue"])
        text = f"{done:,} task(s) {chosen.confirm_text}."
        if left.count:
            text += f" {left} more still {status.label.lower()} match the filters: run it again for the next batch."
        messages.success(request, text)
        return redirect(list_url(slug, filters))
