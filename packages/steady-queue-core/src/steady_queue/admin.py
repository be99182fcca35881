"""Where operators look: jobs and their state, failures (retry, discard), processes and pauses."""

import json

from django.contrib import admin, messages
from django.db.models import Exists, F, OuterRef
from django.utils.html import format_html

from steady_queue.cancellation import cancel_many, is_cancelled
from steady_queue.models import (
    BlockedExecution,
    ClaimedExecution,
    FailedExecution,
    Job,
    Pause,
    Process,
    ReadyExecution,
    RecurringTask,
    ScheduledExecution,
    Semaphore,
)
from steady_queue.models.failed_execution import discard, retry
from steady_queue.models.job import parse_result_id, result_id
from steady_queue.results import job_status


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows change only through the queue's own operations, never by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def pretty_json(value):
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


@admin.action(description="Cancel the selected tasks", permissions=["cancel"])
def cancel_selected(modeladmin, request, queryset):
    count = cancel_many(queryset=queryset, by=f"admin user {request.user.get_username()}")
    modeladmin.message_user(
        request,
        f"{count} task(s) cancelled. Tasks already running, finished or cancelled were left as they were.",
        messages.SUCCESS,
    )


class CancelAction:
    """The "Cancel the selected tasks" action, for whoever may change jobs."""

    actions = [cancel_selected]

    def has_cancel_permission(self, request):
        return request.user.has_perm("steady_queue.change_job")


class CancelledFilter(admin.SimpleListFilter):
    title = "cancelled"
    parameter_name = "cancelled"

    def lookups(self, request, model_admin):
        return [("yes", "Cancelled"), ("requested", "Running, cancel requested")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(cancelled_at__isnull=False, finished_at=F("cancelled_at"))
        if self.value() == "requested":
            running = Exists(ClaimedExecution.objects.filter(job_id=OuterRef("pk")))
            return queryset.filter(running, cancelled_at__isnull=False)
        return queryset


@admin.register(Job)
class JobAdmin(CancelAction, ReadOnlyAdmin):
    list_display = ["id", "task_path", "queue_name", "priority", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["queue_name", "backend", CancelledFilter]
    search_fields = ["task_path", "concurrency_key"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "result_id", "status", "attempts", "next_attempt", "arguments_pretty", "errors_pretty", "return_value_pretty"
    ]
    exclude = ["arguments", "errors", "return_value"]
    list_select_related = ["claimedexecution", "failedexecution"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("claimedexecution", "failedexecution")

    def get_search_results(self, request, queryset, search_term):
        # Operators paste a TaskResult.id from a log line or a bug report.
        parsed = parse_result_id(search_term.strip())
        if parsed is not None and "-" in search_term:
            return queryset.filter(pk=parsed[0], token=parsed[1]), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="result id")
    def result_id(self, job):
        return result_id(job)

    @admin.display(description="status")
    def status(self, job):
        if is_cancelled(job):
            return "Cancelled"
        label = job_status(job).label
        if job.cancelled_at is not None and getattr(job, "claimedexecution", None) is not None:
            return f"{label} (cancel requested)"
        return label

    @admin.display(description="attempts")
    def attempts(self, job):
        return f"{len(job.worker_ids)} of {job.max_attempts}"

    @admin.display(description="next attempt")
    def next_attempt(self, job):
        # A task between attempts waits, scheduled, for this time.
        if job.finished_at is None and job.worker_ids and job.scheduled_at:
            return job.scheduled_at
        return "-"

    @admin.display(description="arguments")
    def arguments_pretty(self, job):
        return pretty_json(job.arguments)

    @admin.display(description="errors")
    def errors_pretty(self, job):
        return format_html("<pre>{}</pre>", "\n\n".join(error["traceback"] for error in job.errors))

    @admin.display(description="return value")
    def return_value_pretty(self, job):
        return pretty_json(job.return_value)


class ExecutionAdmin(ReadOnlyAdmin):
    list_select_related = ["job"]
    search_fields = ["job__task_path"]

    @admin.display(description="task", ordering="job__task_path")
    def task(self, execution):
        return execution.job.task_path


@admin.register(ReadyExecution)
class ReadyExecutionAdmin(CancelAction, ExecutionAdmin):
    list_display = ["job_id", "task", "queue_name", "priority", "created_at"]
    list_filter = ["queue_name"]


@admin.register(ScheduledExecution)
class ScheduledExecutionAdmin(CancelAction, ExecutionAdmin):
    list_display = ["job_id", "task", "queue_name", "priority", "scheduled_at"]
    list_filter = ["queue_name"]


@admin.register(BlockedExecution)
class BlockedExecutionAdmin(CancelAction, ExecutionAdmin):
    list_display = ["job_id", "task", "concurrency_key", "queue_name", "priority", "expires_at"]
    search_fields = ["job__task_path", "concurrency_key"]


@admin.register(ClaimedExecution)
class ClaimedExecutionAdmin(ExecutionAdmin):
    list_display = ["job_id", "task", "process", "created_at"]
    list_select_related = ["job", "process"]


@admin.register(FailedExecution)
class FailedExecutionAdmin(ExecutionAdmin):
    list_display = ["job_id", "task", "error", "created_at"]
    actions = ["retry_selected", "discard_selected"]

    @admin.display(description="error")
    def error(self, execution):
        errors = execution.job.errors
        return f"{errors[-1]['exception_class_path']}: {errors[-1]['message']}"[:200] if errors else ""

    def has_retry_permission(self, request):
        return request.user.has_perm("steady_queue.change_failedexecution")

    def has_discard_permission(self, request):
        return request.user.has_perm("steady_queue.delete_failedexecution")

    @admin.action(description="Retry the selected tasks", permissions=["retry"])
    def retry_selected(self, request, queryset):
        count = retry(list(queryset.values_list("job_id", flat=True)))
        self.message_user(request, f"{count} task(s) put back in their queue.", messages.SUCCESS)

    @admin.action(description="Discard the selected tasks", permissions=["discard"])
    def discard_selected(self, request, queryset):
        count = discard(list(queryset.values_list("job_id", flat=True)))
        self.message_user(request, f"{count} task(s) discarded.", messages.SUCCESS)


@admin.register(Process)
class ProcessAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "hostname", "pid", "last_heartbeat_at", "created_at"]
    list_filter = ["kind", "hostname"]


@admin.register(Pause)
class PauseAdmin(admin.ModelAdmin):
    """Adding a row pauses a queue; deleting it resumes the queue."""

    list_display = ["queue_name", "created_at"]
    fields = ["queue_name"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Semaphore)
class SemaphoreAdmin(ReadOnlyAdmin):
    list_display = ["key", "value", "expires_at", "updated_at"]
    search_fields = ["key"]


@admin.register(RecurringTask)
class RecurringTaskAdmin(ReadOnlyAdmin):
    list_display = ["key", "schedule", "task_path", "queue_name", "priority", "last_run_at", "next_run_at"]
    search_fields = ["key", "task_path"]
