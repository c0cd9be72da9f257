from .app import mcp
from .tools import forecast  # noqa: F401  (registers the tools)

if __name__ == "__main__":
    mcp.run()
