"""Placing a graph on a hardware profile: fusion into units, tile allocation, verdicts."""
