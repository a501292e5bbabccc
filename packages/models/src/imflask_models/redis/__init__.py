"""The key-value store: Redis through redis-py."""
