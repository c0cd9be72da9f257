import { z } from "zod/v4";

const PRIORITIES = ["low", "normal", "urgent"] as const;

export const openTicket = {
  name: "open_ticket",
  config: {
    title: "Open ticket",
    description: "Open a support ticket for a customer",
    inputSchema: z.object({
      customer: z.email().describe("Customer email address"),
      priority: z.enum(PRIORITIES).default("normal").describe("How urgent"),
      labels: z.string().array().optional().describe("Labels to add"),
    }),
    outputSchema: z.object({ id: z.string().describe("The new ticket id") }),
  },
};
