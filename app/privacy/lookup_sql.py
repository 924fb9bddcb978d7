"""The expressions that find a person's rows by identifier, one SQL text per backend.

The same text is used by the expression indexes (migration 0020_privacy) and by the queries, so
each query is answered from its index. Canonical records hold the normalised standard shape
(emails lower-cased, phones E.164). Staged payloads are not read here: their email and id are
kept in columns when they are staged (app.privacy.staged_subjects).

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
    "ix_webhook_notices_subject_email": ("webhook_notices", "client_id, livemode", NOTICE_EMAIL),
}
