"""The test project's URLs with the Prometheus endpoint mounted, as a project mounts it."""

from django.urls import path

from steady_queue.console.metrics import metrics
from tests.urls import urlpatterns as project_urls

urlpatterns = [path("metrics/steady-queue/", metrics, name="steady-queue-metrics"), *project_urls]
