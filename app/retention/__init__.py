"""Retention: how long each kind of personal data is kept per tenant, and the purge."""
