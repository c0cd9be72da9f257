from typing import Literal

from pydantic import BaseModel, Field

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from .models import Filter


class Point(BaseModel):
    x: float = Field(description="Horizontal position")
    y: float = Field(description="Vertical position")
    label: str | None = None


def build_server() -> MCPServer:
    mcp = MCPServer("geometry")

    @mcp.tool(
        title="Distance",
        description="Distance between two points.",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True),
    )
    def distance(a: Point, b: Point, unit: Literal["m", "km"] = "m") -> float:
        return 0.0

    @mcp.tool(description="Find shapes matching a filter.")
    def find_shapes(filter: Filter) -> list[str]:
        return []

    return mcp
