"""The runtime's HTTP surface: the RPC endpoint, forms and answers in the cloud's wire format,
the API description as the runtime reads it, keys and URL signatures."""
