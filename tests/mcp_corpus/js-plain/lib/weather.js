import { z } from "zod";

const ALERTS_DESCRIPTION = [
  "Get the active weather alerts for a US state.",
  "Use two-letter state codes.",
].join(" ");

export function registerWeather(server) {
  server.tool(
    "get_alerts",
    ALERTS_DESCRIPTION,
    { state: z.string().length(2).describe("Two-letter state code") },
    async () => ({ content: [] }),
  );
}

// Not a registration: a plain object method named tool.
export const registry = { tool(name) { return name; } };
registry.tool("not_a_tool");
