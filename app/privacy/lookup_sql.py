"""The expressions that find a person's rows by identifier, one SQL text per backend.

The same text is used by the expression indexes (migration 0020_privacy) and by the queries, so
each query is answered from its index. Canonical records hold the normalised standard shape
(emails lower-cased, phones E.164). Staged payloads are the records as received: the standard
shape or a platform's own (HubSpot `properties.email`, Salesforce `Email`, WooCommerce
`billing.email`, platform ids in `id`/`Id`), so their email is lower-cased in the index.

PostgreSQL: staged payloads are text; a JSON text holding the escape \\u0000 cannot be read as
`json` there, and an index expression that fails would fail the ingest that stages it. Such a
payload is left out of the index (the CASE): its raw copy is not found by email or id (its
canonical record, quarantine entry and AMS row still are).

Webhook notices (events that did not become jobs) are few next to records, so an index over their
payloads costs little; a notice naming only an id (HubSpot's id-only events) is found by its
(source, object id) through a plain index (app.privacy.models).
"""

CANONICAL_EMAIL: dict[str, str] = {
    "sqlite": "json_extract(data, '$.email')",
    "postgresql": "(data ->> 'email')",
}
CANONICAL_PHONE: dict[str, str] = {
    "sqlite": "json_extract(data, '$.phone')",
    "postgresql": "(data ->> 'phone')",
}
STAGED_EMAIL: dict[str, str] = {
    "sqlite": "lower(coalesce(json_extract(payload, '$.email'), "
    "json_extract(payload, '$.properties.email'), json_extract(payload, '$.Email'), "
    "json_extract(payload, '$.billing.email')))",
    # Written as PostgreSQL prints it back, so the migration check compares it equal.
    "postgresql": "lower(\nCASE\n    WHEN strpos(payload, '\\u0000') = 0 THEN COALESCE("
    "payload::json ->> 'email', payload::json #>> '{properties,email}', "
    "payload::json ->> 'Email', payload::json #>> '{billing,email}')\n    ELSE NULL\nEND)",
}
STAGED_EXTERNAL_ID: dict[str, str] = {
    "sqlite": "CAST(coalesce(json_extract(payload, '$.external_id'), "
    "json_extract(payload, '$.id'), json_extract(payload, '$.Id')) AS TEXT)",
    "postgresql": "(\nCASE\n    WHEN strpos(payload, '\\u0000') = 0 THEN COALESCE("
    "payload::json ->> 'external_id', payload::json ->> 'id', payload::json ->> 'Id')"
    "\n    ELSE NULL\nEND)",
}

# Webhook notices keep the event body as JSON (PostgreSQL: JSONB, so no text parsing): a
# platform's own shape, with its email where that platform puts it.
NOTICE_EMAIL: dict[str, str] = {
    "sqlite": "lower(coalesce(json_extract(payload, '$.email'), "
    "json_extract(payload, '$.properties.email'), json_extract(payload, '$.Email'), "
    "json_extract(payload, '$.billing.email'), "
    "json_extract(payload, '$.propertyValue')))",
    "postgresql": "lower(COALESCE(payload ->> 'email', payload #>> '{properties,email}', "
    "payload ->> 'Email', payload #>> '{billing,email}', payload ->> 'propertyValue'))",
}

# name → (table, leading columns, expression by dialect)
EXPRESSION_INDEXES: dict[str, tuple[str, str, dict[str, str]]] = {
    "ix_canonical_records_subject_email": (
        "canonical_records",
        "client_id, livemode",
        CANONICAL_EMAIL,
    ),
    "ix_canonical_records_subject_phone": (
        "canonical_records",
        "client_id, livemode",
        CANONICAL_PHONE,
    ),
    "ix_staged_records_subject_email": ("staged_records", "client_id", STAGED_EMAIL),
    "ix_staged_records_subject_external_id": (
        "staged_records",
        "client_id",
        STAGED_EXTERNAL_ID,
    ),
    "ix_webhook_notices_subject_email": ("webhook_notices", "client_id, livemode", NOTICE_EMAIL),
}
