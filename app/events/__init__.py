"""Change events out: the catalogue, the outbox, subscriber endpoints and signed delivery."""
