"""The cloud's wire format as the runtime speaks it: the answer envelope and its errors, form
bodies checked against the API description, paging tokens, API keys and URL signatures.

Every service uses these; none of them knows a service.
"""
