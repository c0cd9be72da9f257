export { photoTool } from "./photo-tool.js";
export { uploadTool } from "./upload-tool.js";
export type { PhotoParams } from "./photo-tool.js";
