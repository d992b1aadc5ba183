from django import template
from django.utils.html import format_html

from planning.charts import figure_json

register = template.Library()


@register.simple_tag
def plotly_chart(figure: dict, chart_id: str, label: str = "Chart", height: int = 360):
    """A chart placeholder drawn by static/js/charts.js (no inline script, CSP-safe)."""
    return format_html(
        '<div class="plotly-chart" id="{}" role="figure" aria-label="{}" style="height:{}px" '
        'data-figure="{}"></div>',
        chart_id,
        label,
        height,
        figure_json(figure),
    )
