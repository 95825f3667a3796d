"""The runtime's HTTP surface: the ASGI app, the RPC endpoint, and the dispatch of each action
to the service that answers it."""
