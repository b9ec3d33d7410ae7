"""The foundation: a data home and its paths, errors, locks, SQLite, run ids, run tallies, times the user
types, and the record itself.  It imports nothing else of the project."""
