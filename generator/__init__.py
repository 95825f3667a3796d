"""`make generate`: turns openapi/agentbay.yaml and templates/ into checked-in package code."""
