"""Models of the retention app (DOMAIN.md); built in its own issue."""
