"""Writing canonical records to each client's AMS (its Airtable base), and the sync state."""
