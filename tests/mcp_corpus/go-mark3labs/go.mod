module example.com/kvstore

go 1.23

require github.com/mark3labs/mcp-go v0.40.0
