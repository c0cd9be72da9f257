"""A FastMCP notes server."""

from typing import Annotated, Literal, Optional

import typer
from pydantic import Field

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import ToolAnnotations

from . import texts
from .texts import SEARCH_DESCRIPTION

mcp = FastMCP(
    "notes",
    instructions="Notes are plain text. " "Titles are unique.",
)

cli = typer.Typer()


@mcp.tool()
def add_note(title: str, body: str = "", pinned: bool = False) -> str:
    """Add a note.

    The title must be unique.
    """
    return title


@mcp.tool(name="search", description=SEARCH_DESCRIPTION)
async def search_notes(
    query: Annotated[str, Field(description="Words to look for")],
    limit: Annotated[int, Field(description="At most this many", ge=1)] = 10,
    order: Literal["newest", "oldest"] = "newest",
    ctx: Context = None,
) -> list[str]:
    return []


@mcp.tool(annotations=ToolAnnotations(readOnlyHint=True, openWorldHint=False), title="Count")
def count_notes(tag: Optional[str] = None) -> int:
    return 0


@mcp.tool
def delete_note(note_id: str = Field(description="The note to delete")) -> None:
    """Delete a note permanently."""


@mcp.tool(description=texts.EXPORT_DESCRIPTION)
def export_notes(fmt: str = Field("md", description="Output format")) -> str:
    return ""


@mcp.prompt()
def summarize(style: str = "short") -> str:
    """Summarize all notes."""
    return ""


@mcp.prompt(name="review", description="Review one note")
def review_prompt(note_id: Annotated[str, Field(description="The note")]) -> str:
    return ""


@mcp.resource("notes://all")
def all_notes() -> str:
    """Every note, newest first."""
    return ""


@mcp.resource("notes://{note_id}", mime_type="text/markdown", name="note")
def one_note(note_id: str) -> str:
    return ""


@cli.tool()
def not_a_tool() -> None:
    """A Typer command, not an MCP tool."""


def tool(name: str) -> str:
    return name


FAKE_TOOLS = ["read_file", "run_command"]
