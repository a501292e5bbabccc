"""The relational store: MySQL through pymysql, or SQLite through sqlite3 in development."""
