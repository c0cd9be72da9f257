import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { photoTool, uploadTool, type PhotoParams } from "./tools/index.js";
import { Catalog } from "../catalog.js";

const serverInfo = {
  name: "Photo Library",
  version: process.env.PKG_VERSION ?? "dev",
};

export function createServer(catalog: Catalog) {
  const server = new McpServer(serverInfo, {
    instructions: "Use list_albums before fetching photos. " + "Albums are read-only.",
  });
  registerTools(server, catalog);
  return server;
}

function registerTools(server: McpServer, catalog: Catalog): void {
  server.registerTool(
    photoTool.name,
    {
      title: "Get Photo",
      description: photoTool.description,
      inputSchema: photoTool.parametersSchema,
      annotations: { readOnlyHint: true },
    },
    (params: PhotoParams) => photoTool.handler(params, catalog),
  );
  server.registerTool(
    uploadTool.name,
    {
      title: "Upload Photo",
      description: uploadTool.describe(catalog.root),
      inputSchema: uploadTool.parametersSchema,
      annotations: { openWorldHint: true, destructiveHint: false },
    },
    (params) => uploadTool.handler(params, catalog),
  );
}
