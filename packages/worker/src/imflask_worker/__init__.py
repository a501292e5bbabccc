"""IMFlask worker layer."""
