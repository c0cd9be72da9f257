package main

import (
	"context"
	"log"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type GreetInput struct {
	Name     string `json:"name" jsonschema:"the name of the person to greet"`
	Language string `json:"language,omitempty" jsonschema:"an ISO 639-1 code"`
	internal int
}

type SearchInput struct {
	Query string   `json:"query" jsonschema:"text to search for"`
	Tags  []string `json:"tags,omitempty"`
	Limit *int     `json:"limit,omitempty" jsonschema:"maximum number of hits"`
}

func Greet(ctx context.Context, req *mcp.CallToolRequest, in GreetInput) (*mcp.CallToolResult, any, error) {
	return nil, nil, nil
}

func main() {
	server := mcp.NewServer(&mcp.Implementation{Name: "greeter", Version: "v1.0.0"},
		&mcp.ServerOptions{Instructions: "Greet people politely."})

	mcp.AddTool(server, &mcp.Tool{Name: "greet", Description: "Say hi to someone"}, Greet)

	mcp.AddTool(server, &mcp.Tool{
		Name:        "search",
		Title:       "Search",
		Description: searchDescription,
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: jsonschema.Ptr(false)},
	}, func(ctx context.Context, req *mcp.CallToolRequest, in SearchInput) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	})

	server.AddTool(&mcp.Tool{
		Name:        "purge",
		Description: "Remove all cached greetings",
		InputSchema: &jsonschema.Schema{
			Type: "object",
			Properties: map[string]*jsonschema.Schema{
				"confirm": {Type: "boolean", Description: "Must be true"},
			},
			Required: []string{"confirm"},
		},
		Annotations: &mcp.ToolAnnotations{DestructiveHint: jsonschema.Ptr(true)},
	}, nil)

	server.AddPrompt(&mcp.Prompt{
		Name:        "welcome",
		Description: "A welcome message",
		Arguments: []*mcp.PromptArgument{
			{Name: "name", Description: "Who to welcome", Required: true},
		},
	}, nil)

	server.AddResource(&mcp.Resource{Name: "greetings", URI: "greet://all", MIMEType: "text/plain", Description: "Every greeting sent"}, nil)
	server.AddResourceTemplate(&mcp.ResourceTemplate{Name: "greeting", URITemplate: "greet://{id}"}, nil)

	if err := server.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Fatal(err)
	}
}

const searchDescription = "Search past greetings"
