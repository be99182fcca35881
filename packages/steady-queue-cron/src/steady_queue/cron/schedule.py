"""Next run times of a crontab expression, in the project's time zone."""

from zoneinfo import ZoneInfo

from crontab import CronTab
from django.conf import settings
from django.utils import timezone


def project_timezone():
    return ZoneInfo(settings.TIME_ZONE) if settings.USE_TZ and settings.TIME_ZONE else timezone.get_default_timezone()


class Schedule:
    """A crontab expression read as wall-clock time in one time zone.

    When clocks go forward, a time inside the skipped hour runs an hour later by the clock (02:30
    becomes 03:30); when they go back, each wall-clock time runs once, at its first occurrence.
    """

    def __init__(self, expression, tz=None):
        self.expression = expression
        self.crontab = CronTab(expression)
        self.tz = tz or project_timezone()

    def next_after(self, moment):
        """The first run time strictly after ``moment`` (an aware datetime), as an aware UTC datetime."""
        local = moment.astimezone(self.tz).replace(tzinfo=None)
        while True:
            candidate = self.crontab.next(now=local, delta=False, return_datetime=True, default_utc=False)
            aware = candidate.replace(tzinfo=self.tz)
            # Round-trip through UTC to normalise times that do not exist (the spring-forward gap).
            result = aware.astimezone(ZoneInfo("UTC"))
            if result > moment:
                return result
            # The candidate fell in the repeated hour before `moment` (autumn): look further.
            local = candidate

    def __repr__(self):
        return f"Schedule({self.expression!r}, tz={self.tz})"
