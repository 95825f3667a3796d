"""Sessions as the API sees them: create, release, get, list, labels, tools, and what hangs
off a session (links, the browser and its CDP port, the desktop, the live view page)."""
