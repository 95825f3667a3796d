"""Result and data classes the managers return, shared by the sync and async API."""
