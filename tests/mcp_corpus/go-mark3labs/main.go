package main

import (
	"context"
	"encoding/json"

	"example.com/kvstore/internal/tools"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

func main() {
	s := server.NewMCPServer(
		"kvstore",
		"1.2.0",
		server.WithToolCapabilities(true),
		server.WithInstructions(instructions),
	)

	getTool := mcp.NewTool("get_value",
		mcp.WithDescription(getDescription),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithString("key",
			mcp.Required(),
			mcp.Description("The key to read"),
		),
		mcp.WithString("encoding",
			mcp.Description("How to return the value"),
			mcp.Enum("text", "base64"),
			mcp.DefaultString("text"),
		),
	)
	s.AddTool(getTool, handleGet)

	s.AddTool(mcp.NewTool("set_value",
		mcp.WithDescription("Store a value under a key. "+
			"Overwrites any previous value."),
		mcp.WithTitleAnnotation("Set value"),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithString("key", mcp.Required(), mcp.Description("The key to write")),
		mcp.WithNumber("ttl", mcp.Description("Seconds to keep the value"), mcp.DefaultNumber(0)),
		mcp.WithBoolean("overwrite", mcp.DefaultBool(true)),
	), handleSet)

	s.AddTool(mcp.NewToolWithRawSchema("dump", "Dump every key", json.RawMessage(`{
		"type": "object",
		"properties": {"prefix": {"type": "string", "description": "Only keys with this prefix"}}
	}`)), handleGet)

	s.AddPrompt(mcp.NewPrompt("explain_key",
		mcp.WithPromptDescription("Explain what a key holds"),
		mcp.WithArgument("key", mcp.ArgumentDescription("The key"), mcp.RequiredArgument()),
		mcp.WithArgument("detail", mcp.ArgumentDescription("short or long")),
	), nil)

	s.AddResource(mcp.NewResource("kv://stats", "stats",
		mcp.WithResourceDescription("Store statistics"),
		mcp.WithMIMEType("application/json"),
	), nil)
	s.AddResourceTemplate(mcp.NewResourceTemplate("kv://keys/{key}", "key",
		mcp.WithTemplateDescription("One stored value"),
	), nil)

	// A decoy: a tool registry of this project, not the SDK.
	tools.NewTool("wipe_store", "deletes everything")

	_ = server.ServeStdio(s)
}

func handleGet(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return nil, nil
}

func handleSet(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return nil, nil
}
