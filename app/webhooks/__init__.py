"""Inbound webhooks: platform and partner deliveries, verified, deduplicated, turned into ingest
jobs or change notices."""
