"""Models of the managers app (DOMAIN.md); built in its own issue."""
