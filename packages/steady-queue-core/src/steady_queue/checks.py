from django.conf import settings
from django.core import checks

from steady_queue.conf import parse


@checks.register(checks.Tags.compatibility)
def check_settings(app_configs=None, **kwargs):
    """Every problem in settings.STEADY_QUEUE, one error each; then the recurring tasks."""
    config = parse(getattr(settings, "STEADY_QUEUE", None))
    errors = [checks.Error(message, id="steady_queue.E010") for message in config.errors]
    if not errors:
        from steady_queue.recurring_task import RecurringTaskError, recurring_tasks

        try:
            recurring_tasks()
        except RecurringTaskError as error:
            errors.append(checks.Error(str(error), id="steady_queue.E020"))
    return errors
