"""The document store: MongoDB through pymongo."""
