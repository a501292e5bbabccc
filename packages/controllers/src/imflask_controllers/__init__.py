"""IMFlask controllers layer."""
