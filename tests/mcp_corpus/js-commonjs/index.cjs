const { McpServer: Server } = require("@modelcontextprotocol/sdk/server/mcp.js");
const { z } = require("zod");
const text = require("./text.cjs");

const server = new Server({ name: "clock", version: "0.1.0" });

server.tool("now", text.NOW, { zone: z.string().optional().describe("IANA time zone") }, async () => ({ content: [] }));

// Decoy: an EventEmitter-like object with a `tool` method.
const { EventEmitter } = require("events");
const bus = new EventEmitter();
bus.tool("shutdown", () => {});
