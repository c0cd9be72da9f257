#!/usr/bin/env node
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { Command } from "commander";
import { tool as aiTool } from "ai";
import { z } from "zod";

const server = new McpServer({ name: "notes", version: "2.1.0" });

const NOTE_ID = z.string().describe("Identifier of the note");

// name and handler only
server.tool("ping", async () => ({ content: [{ type: "text", text: "pong" }] }));

// name, description, handler
server.tool("list_notes", "List every note title", async () => ({ content: [] }));

// name, raw shape, handler
server.tool(
  "get_note",
  { id: NOTE_ID },
  async ({ id }) => ({ content: [{ type: "text", text: id }] }),
);

// name, description, raw shape, handler
server.tool(
  "search_notes",
  "Search notes by text",
  {
    query: z.string().min(1).describe("Text to look for"),
    limit: z.number().int().optional().describe("At most this many results"),
    tags: z.array(z.string()).optional(),
  },
  async () => ({ content: [] }),
);

// name, description, raw shape, annotations, handler
server.tool(
  "delete_note",
  "Delete a note forever",
  { id: NOTE_ID },
  { destructiveHint: true, idempotentHint: true, title: "Delete note" },
  async () => ({ content: [] }),
);

// name, annotations, handler
server.tool("count_notes", { readOnlyHint: true }, async () => ({ content: [] }));

// A computed name cannot be read statically.
const prefix = process.env.PREFIX ?? "x";
server.tool(`${prefix}_export`, "Export notes", async () => ({ content: [] }));

server.prompt("summarize", "Summarize the notes", { style: z.enum(["short", "long"]).describe("Summary length") }, () => ({ messages: [] }));
server.prompt("greet", () => ({ messages: [] }));

server.registerPrompt(
  "review_note",
  {
    title: "Review a note",
    description: "Ask for a review of one note",
    argsSchema: { id: NOTE_ID, tone: z.string().optional() },
  },
  () => ({ messages: [] }),
);

server.resource("all-notes", "notes://all", async (uri) => ({ contents: [] }));
server.resource(
  "note",
  new ResourceTemplate("notes://{id}", { list: undefined }),
  { description: "One note by id", mimeType: "text/markdown" },
  async (uri, { id }) => ({ contents: [] }),
);
server.registerResource(
  "settings",
  "notes://settings",
  { title: "Settings", description: "The note store settings", mimeType: "application/json" },
  async (uri) => ({ contents: [] }),
);

// Decoys: a CLI with a `tool` command and an AI SDK tool are not MCP definitions.
const program = new Command();
program.tool("drop_database", "Drops everything", () => {});
const weather = aiTool({ description: "Get the weather", parameters: z.object({}) });
const names = ["read_file", "write_file", "execute_command"];
console.log(names, weather);

await server.connect(new StdioServerTransport());
