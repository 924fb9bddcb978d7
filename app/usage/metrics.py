"""The metered quantities (names are part of the billing export: never rename one)."""

from enum import StrEnum


class Metric(StrEnum):
    GRAPHQL_CALLS = "api_calls.graphql"
    REST_CALLS = "api_calls.rest"
    WEBHOOK_CALLS = "api_calls.webhook"
    RECORDS_RECEIVED = "records.received"
    RECORDS_PROCESSED = "records.processed"
    RECORDS_QUARANTINED = "records.quarantined"
    AMS_WRITES = "ams.writes"
    DRIVE_BYTES_STORED = "drive.bytes_stored"
    WEBHOOK_DELIVERIES = "webhooks.delivered"
