export const READ_DESCRIPTION = `Read the complete contents of a file as text.`;

export const EXTRA_TOOLS = [
  {
    name: "list_dir",
    description: ["List the entries of a directory.", "Directories end with a slash."].join(" "),
    inputSchema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
  },
];
