"""Series as inline SVG (pygal): drawn on the server, so pages need no JavaScript and no
CDN. pygal's tooltip script is left out (``js=[]``) and the config script it writes anyway
is cut out (the console's CSP would refuse it); pygal escapes every label."""

from __future__ import annotations

import re

import pygal
from pygal.style import CleanStyle

from schemas.money import NANO_PER_USD

from ..domain.usage import Series

__all__ = ["bar_chart"]

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>|<script\b[^>]*/>", re.S)


def bar_chart(title: str, series: Series, usd: bool = False) -> str:
    """A stacked bar chart of ``series`` (nano-USD values drawn in USD when ``usd``)."""
    chart = pygal.StackedBar(
        title=title,
        width=820,
        height=280,
        js=[],
        style=CleanStyle,
        disable_xml_declaration=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        x_label_rotation=0 if len(series.days) <= 8 else 30,
        show_minor_x_labels=True,
        print_values=False,
        no_data_text="No usage in this period",
    )
    chart.x_labels = series.days
    for name, values in series.values.items():
        # Bar heights only: the tables beside a chart print the exact amounts.
        chart.add(name[:40], [v / NANO_PER_USD if usd else v for v in values])
    return _SCRIPT.sub("", str(chart.render(is_unicode=True)))
