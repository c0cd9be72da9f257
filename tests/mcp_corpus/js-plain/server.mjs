import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { registerWeather } from "./lib/weather.js";

const mcp = new McpServer(
  { name: "weather-js", version: "1.0.0" },
  { instructions: "Temperatures are in Celsius." },
);

mcp.registerTool(
  "get_forecast",
  {
    description: "Get the forecast for a city",
    inputSchema: {
      city: z.string().describe("City name"),
      days: z.number().min(1).max(7).default(3).describe("Days ahead"),
    },
    outputSchema: { summary: z.string().describe("One line per day") },
  },
  async ({ city }) => ({ content: [] }),
);

registerWeather(mcp);
