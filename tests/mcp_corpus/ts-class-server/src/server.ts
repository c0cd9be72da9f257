import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import * as defs from "./defs/index.js";
import { Registry } from "./registry.js";

export class TicketServer {
  private readonly server: McpServer;
  private readonly registry = new Registry();

  constructor() {
    this.server = new McpServer({ name: "tickets", version: "3.0.0" });
    this.registerAll();
  }

  private registerAll() {
    this.server.registerTool(defs.openTicket.name, defs.openTicket.config, async () => ({ content: [] }));
    this.server.registerTool(
      `close_ticket`,
      {
        description: `Close a ticket`,
        inputSchema: defs.closeShape,
        annotations: defs.CLOSE_HINTS,
      },
      async () => ({ content: [] }),
    );
    // The project's own registry, not the MCP server.
    this.registry.registerTool("reopen_all", { description: "Reopen every ticket" }, () => {});
  }
}
