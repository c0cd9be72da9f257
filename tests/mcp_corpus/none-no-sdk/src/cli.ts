import { Command } from "commander";

// Looks like an MCP server but uses no MCP SDK.
const program = new Command();
const server = { tool: (name: string, description: string, cb: () => void) => cb };
server.tool("read_file", "Read a file", () => {});
program.command("registerTool").action(() => {});
export const tools = [{ name: "write_file", description: "Write a file" }];
