"""Small SVG line charts, drawn on the server: no script, no image files."""

from django.utils.html import format_html


def sparkline(values, *, width=240, height=36, label=""):
    """An inline SVG of ``values`` (numbers, oldest first), scaled to its own maximum."""
    values = [float(value or 0) for value in values] or [0.0]
    top = max(values) or 1.0
    step = width / max(len(values) - 1, 1)
    # One pixel of margin, so that a line along the top or bottom edge is not cut in half.
    points = " ".join(
        f"{index * step:.1f},{height - 1 - (value / top) * (height - 2):.1f}" for index, value in enumerate(values)
    )
    return format_html(
        '<svg class="sq-sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        "<title>{}</title>"
        '<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{}"/></svg>',
        width, height, width, height, label, label, points,
    )
