"""Who gets in: active staff only (others are sent to the admin's login), then model permissions.

Seeing a page needs the view permission of what it shows; each action names the permission it
needs in ``steady_queue.console.actions``. A user who may see but not act gets pages without
buttons, and 403 for a POST.
"""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse

VIEW_JOBS = "steady_queue.view_job"
VIEW_PROCESSES = "steady_queue.view_process"
VIEW_RECURRING = "steady_queue.view_recurringtask"
PAUSE = "steady_queue.add_pause"
RESUME = "steady_queue.delete_pause"
RUN_RECURRING = "steady_queue.change_recurringtask"


class StaffOnly:
    """A view mixin: staff only, with ``permission_required`` (one permission name) to get in."""

    permission_required = VIEW_JOBS

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not (user.is_active and user.is_staff):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not user.has_perm(self.permission_required):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def require(user, permission):
    """Raise PermissionDenied (a 403) unless the user has the permission."""
    if not user.has_perm(permission):
        raise PermissionDenied
