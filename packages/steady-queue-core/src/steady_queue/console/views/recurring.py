from django.contrib import messages
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.html import format_html
from django.views import View

from steady_queue.console.access import RUN_RECURRING, VIEW_RECURRING, StaffOnly, require
from steady_queue.console.masking import masked
from steady_queue.console.statuses import STATE_RELATIONS, state_of
from steady_queue.models import RecurringExecution, RecurringTask
from steady_queue.models.job import job_pk
from steady_queue.models.recurring_task import run_now

from .base import ConsolePage

LAST_RUNS = 5


def last_runs(keys):
    """The last LAST_RUNS ticks of each recurring task, with their jobs' states, in one query."""
    ranked = RecurringExecution.objects.annotate(
        rank=Window(RowNumber(), partition_by=F("task_key"), order_by=F("run_at").desc())
    )
    rows = (
        ranked.filter(task_key__in=keys, rank__lte=LAST_RUNS)
        .select_related("job", *(f"job__{relation}" for relation in STATE_RELATIONS))
        .defer("job__arguments", "job__return_value", "job__errors")
        .order_by("task_key", "-run_at")
    )
    runs = {}
    for row in rows:
        state = state_of(row.job) if row.job else None
        runs.setdefault(row.task_key, []).append({"run_at": row.run_at, "job": row.job, "state": state})
    return runs


class RecurringPage(ConsolePage):
    """The recurring tasks as the scheduler last synced them: schedule, next run, last runs, "run now"."""

    template_name = "steady_queue/console/recurring.html"
    title = "Recurring tasks"
    section = "recurring"
    permission_required = VIEW_RECURRING

    def get_context_data(self, **kwargs):
        tasks = list(RecurringTask.objects.order_by("key"))
        runs = last_runs([task.key for task in tasks])
        for task in tasks:
            task.last_runs = runs.get(task.key, [])
            task.masked_arguments = masked(task.arguments)
        return super().get_context_data(tasks=tasks, can_run=self.request.user.has_perm(RUN_RECURRING), **kwargs)


class RecurringRun(StaffOnly, View):
    """POST: enqueue a recurring task now, as its schedule would (see models.recurring_task.run_now)."""

    http_method_names = ["post"]
    permission_required = VIEW_RECURRING

    def post(self, request, pk):
        require(request.user, RUN_RECURRING)
        task = get_object_or_404(RecurringTask, pk=pk)
        try:
            result, enqueued = run_now(task)
        except Exception as error:  # an import or argument error of the project's task, shown as it is
            messages.error(request, f"{task.key} could not be enqueued: {type(error).__name__}: {error}")
            return redirect("steady_queue_console:recurring")
        link = reverse("steady_queue_console:job", args=[job_pk(result.id)])
        if enqueued:
            messages.success(request, format_html('{} enqueued: <a href="{}">task {}</a>.', task.key, link, result.id))
        else:
            messages.warning(
                request,
                format_html(
                    '{} not enqueued: <a href="{}">task {}</a> holds its unique key.', task.key, link, result.id
                ),
            )
        return redirect("steady_queue_console:recurring")
