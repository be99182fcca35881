"""The console's URLs: ``path("admin/steady-queue/", include("steady_queue.console.urls"))``, before the admin's own."""

from django.urls import path

from .views.bulk import BulkActionPage
from .views.job import JobActionPage, JobPage
from .views.jobs import JobsPage
from .views.overview import OverviewPage
from .views.queues import QueuesPage, QueueToggle
from .views.recurring import RecurringPage, RecurringRun
from .views.workers import WorkersPage

app_name = "steady_queue_console"

urlpatterns = [
    path("", OverviewPage.as_view(), name="overview"),
    path("queues/", QueuesPage.as_view(), name="queues"),
    path("queues/pause/", QueueToggle.as_view(pause=True), name="pause"),
    path("queues/resume/", QueueToggle.as_view(pause=False), name="resume"),
    path("tasks/", JobsPage.as_view(), name="jobs-index"),
    path("tasks/<slug:slug>/", JobsPage.as_view(), name="jobs"),
    path("tasks/<slug:slug>/<slug:action>-all/", BulkActionPage.as_view(), name="bulk"),
    path("task/<int:pk>/", JobPage.as_view(), name="job"),
    path("task/<int:pk>/<slug:action>/", JobActionPage.as_view(), name="job-action"),
    path("workers/", WorkersPage.as_view(), name="workers"),
    path("recurring/", RecurringPage.as_view(), name="recurring"),
    path("recurring/<int:pk>/run/", RecurringRun.as_view(), name="recurring-run"),
]
