import { z } from "zod";

export const closeShape = {
  id: z.string().describe("Ticket to close"),
  resolution: z.union([z.literal("fixed"), z.literal("wontfix")]).optional(),
};

export const CLOSE_HINTS = { destructiveHint: false, idempotentHint: true } as const;
