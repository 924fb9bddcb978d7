"""Per-client AMS credentials: the live Airtable token and Google service account a client's AMS
is written with, stored encrypted (app.encryption), never returned, never logged."""
