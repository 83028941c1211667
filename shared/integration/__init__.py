"""The contract between the write side and everything downstream of it: names that cross
processes, the integration events and the envelope they travel in."""
