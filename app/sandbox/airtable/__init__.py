"""An Airtable Web API v0 emulator: the real pyairtable client runs against it unchanged."""
