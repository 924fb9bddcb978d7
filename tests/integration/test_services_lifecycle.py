"""Stopping the process-wide services ends, whatever is still starting or in flight (a stop that
hangs fails here, through stop_services, instead of hanging the test session)."""

from app.services import Services
from app.settings import Settings
from tests.conftest import create_tenant, stop_services
from tests.helpers import api_process, ingest_mutation, shopify_product


async def test_a_stop_right_after_the_start_ends(services: Services) -> None:
    await services.start()
    await stop_services(services)


async def test_a_stop_while_jobs_finish_ends(settings: Settings) -> None:
    """Each job finishes (and commits its job.completed event, waking the delivery loop) while
    the process stops. A stop landing exactly on that wake-up was once lost; that narrow window
    is reproduced deterministically in tests/unit/test_event_relay.py."""
    for number in range(5):
        async with api_process(settings) as (services, gql):
            tenant = await create_tenant(services, name=f"Client {number}")
            records = {"records": [shopify_product(number)]}
            await gql(ingest_mutation("product"), {"input": records}, key=tenant.secret)
