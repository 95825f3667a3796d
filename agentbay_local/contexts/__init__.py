"""Contexts: named stores on disk, their files, and syncing them into and out of sessions."""
