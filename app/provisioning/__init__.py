"""Provisioning a client's AMS: the Airtable base, the Drive folder tree and the AMS config."""
