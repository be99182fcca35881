import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from steady_queue.console.access import require
from steady_queue.console.actions import JOB_ACTIONS, job_action, job_actions
from steady_queue.console.masking import masked
from steady_queue.console.statuses import STATE_RELATIONS, STATUSES, state_of
from steady_queue.models import Job
from steady_queue.models.job import result_id

from .base import ConsolePage, redirect_back


def load(pk):
    """The job with every state row it may have, in one query; its state slug."""
    job = get_object_or_404(Job.objects.select_related(*STATE_RELATIONS, "recurring_execution"), pk=pk)
    return job, state_of(job)


def pretty(value):
    return json.dumps(masked(value), indent=2, ensure_ascii=False, sort_keys=True)


class JobPage(ConsolePage):
    """One task: what it was called with, where it is, its attempts, errors and result, and what may be done."""

    template_name = "steady_queue/console/job.html"
    section = "jobs"

    def get_context_data(self, pk, **kwargs):
        job, state = load(pk)
        claim = getattr(job, "claimedexecution", None)
        return super().get_context_data(
            title=f"{job.task_path} #{job.pk}",
            job=job,
            result_id=result_id(job),
            state=state,
            status=STATUSES.get(state),
            claim=claim,
            waiting=next(
                (getattr(job, name, None) for name in ("scheduledexecution", "blockedexecution", "readyexecution")
                 if getattr(job, name, None) is not None),
                None,
            ),
            attempts=len(job.worker_ids) + (1 if claim else 0),
            arguments=pretty(job.arguments),
            return_value=pretty(job.return_value) if job.return_value is not None else None,
            errors=list(reversed(job.errors)),
            actions=job_actions(state, self.request.user),
            **kwargs,
        )


class JobActionPage(ConsolePage):
    """GET: the confirmation of an action that deletes (discard). POST: the action itself."""

    template_name = "steady_queue/console/confirm.html"
    section = "jobs"

    def dispatch(self, request, *args, **kwargs):
        if not any(known.slug == kwargs["action"] for known in JOB_ACTIONS):
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, pk, action, **kwargs):
        job, state = load(pk)
        chosen = job_action(state, action)
        if chosen is None or not chosen.confirm:
            raise Http404(f"No {action} to confirm for a task in state {state}.")
        require(self.request.user, chosen.permission)
        return super().get_context_data(
            title=f"{chosen.label} {job.task_path} #{job.pk}?",
            job=job,
            action=chosen,
            form_action=reverse("steady_queue_console:job-action", args=[pk, action]),
            cancel_url=reverse("steady_queue_console:job", args=[pk]),
            **kwargs,
        )

    def post(self, request, pk, action):
        # Refused before the task is even read, whatever state it is in, to users who may never do this.
        if not any(request.user.has_perm(a.permission) for a in JOB_ACTIONS if a.slug == action):
            raise PermissionDenied
        job, state = load(pk)
        chosen = job_action(state, action)
        if chosen is None:
            messages.warning(request, f"A task that is {state.replace('-', ' ')} cannot be given “{action}”.")
            return redirect("steady_queue_console:job", pk)
        require(request.user, chosen.permission)
        done, text = chosen.perform(job, request.user)
        (messages.success if done else messages.warning)(request, text)
        if Job.objects.filter(pk=pk).exists():
            return redirect_back(request, reverse("steady_queue_console:job", args=[pk]))
        # Deleted: back to the list it was in.
        return redirect("steady_queue_console:jobs", state)

