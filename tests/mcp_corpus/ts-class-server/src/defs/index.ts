export * from "./open.js";
export { closeShape, CLOSE_HINTS } from "./close.js";
