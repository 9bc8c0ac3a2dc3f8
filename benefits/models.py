"""Models of the benefits app (DOMAIN.md); built in its own issue."""
