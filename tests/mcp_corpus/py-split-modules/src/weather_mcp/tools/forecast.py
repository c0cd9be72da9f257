import textwrap

from ..app import mcp
from ..text import UNITS_NOTE

FORECAST_DOC = textwrap.dedent(
    """\
    Get the forecast for a place.
      Days are counted from today.
    """
)


@mcp.tool(description=FORECAST_DOC)
def forecast(place: str, days: int = 3) -> str:
    return ""


@mcp.tool(description="\n".join(["Current conditions.", UNITS_NOTE]))
def current(place: str) -> str:
    return ""


@mcp.tool(description=f"Alerts for {UNITS_NOTE}")
def alerts(region: str) -> str:
    return ""
