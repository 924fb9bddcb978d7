"""The daily reconciliation audit: canonical records compared with the client's AMS base."""
