import { z } from "zod";

const parameters = {
  albumId: z.string().regex(/^[a-z0-9]+$/).describe("The album that holds the photo"),
  photos: z
    .object({
      photoId: z.string().describe("One photo id, as listed by list_albums"),
      size: z.enum(["small", "medium", "large"]).optional().describe("Rendition to fetch"),
    })
    .array()
    .describe("The photos to fetch"),
  scale: z.number().positive().optional().default(2).describe(`Scale factor for raster output`),
};

const parametersSchema = z.object(parameters);
export type PhotoParams = z.infer<typeof parametersSchema>;

async function getPhoto(params: PhotoParams, catalog: unknown) {
  return { content: [] };
}

export const photoTool = {
  name: "get_photo",
  description:
    "Fetch photos from an album, with their captions and EXIF data. " +
    "Use list_albums first to find album ids.",
  parametersSchema,
  handler: getPhoto,
} as const;
