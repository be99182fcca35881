import os

from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        point = os.environ.get("STEADY_QUEUE_TEST_KILL_AT")
        if point:
            from . import kill_points

            kill_points.install(point)
