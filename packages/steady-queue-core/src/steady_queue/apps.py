import os

from django.apps import AppConfig


class SteadyQueueConfig(AppConfig):
    name = "steady_queue"
    verbose_name = "Steady Queue"
    default_auto_field = "django.db.models.BigAutoField"
    # steady_queue spans several directories when the worker and cron distributions are installed
    # editable; Django refuses an app with more than one location unless its path is given.
    path = os.path.dirname(os.path.abspath(__file__))

    def ready(self):
        from steady_queue import checks  # noqa: F401 (registers the system checks)
