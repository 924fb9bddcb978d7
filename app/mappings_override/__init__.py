"""Per-client field-mapping overrides: stored versions, and the rules a raw job maps with."""
