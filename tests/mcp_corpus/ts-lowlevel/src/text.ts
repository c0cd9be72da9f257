export const INSTRUCTIONS = "Paths must be absolute.";
