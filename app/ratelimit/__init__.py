"""Rate limits: token buckets per API key (and per client for webhook traffic)."""
