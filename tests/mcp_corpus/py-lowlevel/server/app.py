from enum import Enum

import mcp.types as types
from mcp.server.lowlevel import Server
from pydantic import BaseModel, Field


class FetchTools(str, Enum):
    HEAD = "fetch_head"
    LINKS = "fetch_links"


class HeadArgs(BaseModel):
    url: str = Field(description="The page to ask")
    follow: bool = True

INPUT = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "description": "URL to fetch"},
        "max_length": {"type": "integer", "description": "Cut the body here", "default": 5000},
    },
}

app = Server("fetcher", instructions="Fetch only public pages.")


@app.list_tools()
async def list_tools() -> list[types.Tool]:
    return [
        types.Tool(
            name="fetch",
            title="Fetcher",
            description="Fetches a URL and returns its text",
            inputSchema=INPUT,
            annotations=types.ToolAnnotations(readOnlyHint=True, openWorldHint=True),
        ),
        types.Tool(
            name="fetch_raw",
            description="Fetches a URL as bytes",
            input_schema={"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
            output_schema={"type": "object", "properties": {"size": {"type": "integer", "description": "Bytes read"}}},
        ),
        types.Tool(name=FetchTools.HEAD, description="Fetch only the headers", inputSchema=HeadArgs.model_json_schema()),
        types.Tool(name=FetchTools.LINKS.value, description="List the links of a page", inputSchema={"type": "object"}),
    ]


@app.list_prompts()
async def list_prompts() -> list[types.Prompt]:
    return [
        types.Prompt(
            name="summarize_page",
            description="Summarize a web page",
            arguments=[types.PromptArgument(name="url", description="The page", required=True)],
        )
    ]


@app.list_resources()
async def list_resources() -> list[types.Resource]:
    return [types.Resource(uri="cache://index", name="cache-index", description="Pages fetched so far", mimeType="application/json")]


@app.list_resource_templates()
async def list_templates() -> list[types.ResourceTemplate]:
    return [types.ResourceTemplate(uriTemplate="cache://page/{id}", name="cached-page")]


def helper():
    # A decoy: a dict that looks like a tool but is not one.
    return {"name": "delete_cache", "description": "Not a tool"}
