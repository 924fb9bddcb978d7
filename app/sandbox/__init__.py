"""The built-in sandbox: Airtable- and Drive-compatible HTTP APIs that test keys write to."""
