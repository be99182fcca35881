from django.conf import settings
from django.core import checks

from steady_queue.conf import parse


@checks.register(checks.Tags.compatibility)
def check_settings(app_configs=None, **kwargs):
    """Every problem in settings.STEADY_QUEUE, one error each."""
    config = parse(getattr(settings, "STEADY_QUEUE", None))
    return [checks.Error(message, id="steady_queue.E010") for message in config.errors]
