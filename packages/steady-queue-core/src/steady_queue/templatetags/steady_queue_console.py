"""Template filters of the console: times to the second, ages in words."""

from django import template
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


@register.filter
def sq_time(value):
    """A time to the second in the current time zone, with the full ISO timestamp on hover."""
    if value is None:
        return "–"
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), local.isoformat(),
                       local.strftime("%Y-%m-%d %H:%M:%S"))


@register.filter
def sq_duration(seconds):
    """Seconds as the two largest units: "42 s", "3 min 5 s", "2 h 10 min", "4 d 3 h"."""
    if seconds is None:
        return "–"
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts[:2])


@register.filter
def sq_age(value):
    """How long ago a time was, in words ("3 min 5 s")."""
    if value is None:
        return "–"
    return sq_duration(max((timezone.now() - value).total_seconds(), 0))
