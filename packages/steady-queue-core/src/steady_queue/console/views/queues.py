from django.contrib import messages
from django.core.exceptions import BadRequest
from django.shortcuts import redirect
from django.utils import timezone
from django.views import View

from steady_queue import queues
from steady_queue.console import stats
from steady_queue.console.access import PAUSE, RESUME, StaffOnly, require

from .base import ConsolePage


class QueuesPage(ConsolePage):
    """Each queue: its size, its latency, whether it is paused, and the button that changes that."""

    template_name = "steady_queue/console/queues.html"
    title = "Queues"
    section = "queues"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            queues=stats.queues(timezone.now()),
            can_pause=user.has_perm(PAUSE),
            can_resume=user.has_perm(RESUME),
            **kwargs,
        )


class QueueToggle(StaffOnly, View):
    """POST: pause or resume one of the queues the queues page lists (never a name typed by hand)."""

    http_method_names = ["post"]
    pause = True

    def post(self, request):
        require(request.user, PAUSE if self.pause else RESUME)
        name = request.POST.get("queue", "")
        if name not in {queue.name for queue in stats.queues()}:
            # Only the listed queues: a typo must not pause a queue nobody uses and say it did.
            raise BadRequest(f"No queue {name!r} to {'pause' if self.pause else 'resume'}.")
        if self.pause:
            try:
                changed = queues.pause(name)
            except ValueError as error:
                messages.error(request, str(error))
                return redirect("steady_queue_console:queues")
            text = f"Queue {name} paused: workers take none of its tasks until it is resumed."
            messages.success(request, text if changed else f"Queue {name} was already paused.")
        else:
            changed = queues.resume(name)
            messages.success(request, f"Queue {name} resumed." if changed else f"Queue {name} was not paused.")
        return redirect("steady_queue_console:queues")
