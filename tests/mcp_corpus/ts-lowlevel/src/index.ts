import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { zodToJsonSchema } from "zod-to-json-schema";
import { z } from "zod";
import { EXTRA_TOOLS, READ_DESCRIPTION } from "./tools.js";
import * as text from "./text.js";

const ReadArgs = z.object({
  path: z.string().describe("Absolute path of the file"),
  head: z.number().optional().describe("Only the first N lines"),
});

const server = new Server(
  { name: "files-lowlevel", version: "0.3.0" },
  { capabilities: { tools: {}, prompts: {}, resources: {} }, instructions: text.INSTRUCTIONS },
);

server.setRequestHandler(ListToolsRequestSchema, async () => {
  return {
    tools: [
      {
        name: "read_text",
        description: READ_DESCRIPTION,
        inputSchema: zodToJsonSchema(ReadArgs),
      },
      {
        name: "stat",
        description: "Report the size and times of a file. " +
          "Only works within allowed directories.",
        inputSchema: {
          type: "object",
          properties: {
            path: { type: "string", description: "The file to inspect" },
            follow: { type: "boolean", default: false },
          },
          required: ["path"],
        },
        annotations: { readOnlyHint: true },
      },
      ...EXTRA_TOOLS,
    ],
  };
});

server.setRequestHandler(ListPromptsRequestSchema, async () => ({
  prompts: [
    {
      name: "explain_file",
      description: "Explain what a file does",
      arguments: [{ name: "path", description: "The file", required: true }],
    },
  ],
}));

server.setRequestHandler(ListResourcesRequestSchema, async () => ({
  resources: [{ uri: "file:///var/log/app.log", name: "app-log", mimeType: "text/plain" }],
}));

server.setRequestHandler(CallToolRequestSchema, async (request) => {
  // A decoy: tool names compared here are not definitions.
  if (request.params.name === "remove_everything") {
    return { content: [] };
  }
  return { content: [] };
});
