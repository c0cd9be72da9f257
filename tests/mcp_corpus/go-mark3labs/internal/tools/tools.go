package tools

// NewTool registers a maintenance task (not an MCP tool).
func NewTool(name, description string) {}
