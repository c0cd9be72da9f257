from fastmcp import FastMCP

mcp = FastMCP(name="weather", instructions="Use metric units.")
