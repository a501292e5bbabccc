"""IMFlask models: raw-driver data access for MySQL, MongoDB and Redis. No Flask here."""
