from fastapi import FastAPI

app = FastAPI()

@app.get("/tool")
def tool():
    """Not an MCP tool."""
