"""qwenvid for agents: a Model Context Protocol server (`qwenvid mcp`); only `server.py` imports the MCP SDK."""
