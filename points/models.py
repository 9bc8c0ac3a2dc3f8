"""Models of the points app (DOMAIN.md); built in its own issue."""
