"""Benchmarks of Parley against a bare relay; run with ``make bench``."""
