import { z } from "zod";

const parametersSchema = z.object({
  albumId: z.string().describe("The album to upload into"),
  localPath: z.string().describe("Path of the image, relative to the library root"),
});

function describe(root: string) {
  return `Upload an image into an album. Paths are relative to ${root}`;
}

export const uploadTool = {
  name: "upload_photo",
  describe,
  parametersSchema,
  handler: async (params: unknown, catalog: unknown) => ({ content: [] }),
} as const;
