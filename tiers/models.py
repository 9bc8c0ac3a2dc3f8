"""Models of the tiers app (DOMAIN.md); built in its own issue."""
