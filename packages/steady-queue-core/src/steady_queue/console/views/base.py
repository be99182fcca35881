from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import TemplateView

from steady_queue.console.access import VIEW_JOBS, VIEW_PROCESSES, VIEW_RECURRING, StaffOnly

# The console's sections: label, the name its pages give as their ``section``, the URL name of its
# first page, and the permission that shows it.
SECTIONS = [
    ("Overview", "overview", "overview", VIEW_JOBS),
    ("Queues", "queues", "queues", VIEW_JOBS),
    ("Tasks", "jobs", "jobs-index", VIEW_JOBS),
    ("Workers", "workers", "workers", VIEW_PROCESSES),
    ("Recurring tasks", "recurring", "recurring", VIEW_RECURRING),
]


class ConsolePage(StaffOnly, TemplateView):
    """A page in the admin's frame: its header, user links and sidebar, and the console's sections."""

    title = ""
    section = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        sections = [
            {"label": label, "url": reverse(f"steady_queue_console:{url_name}"), "active": name == self.section}
            for label, name, url_name, permission in SECTIONS
            if user.has_perm(permission)
        ]
        return {**admin.site.each_context(self.request), "title": self.title, "sections": sections, **context}


def redirect_back(request, fallback):
    """Back to the page the form was on (``next``, when it is on this site), or to ``fallback``."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect(fallback)
