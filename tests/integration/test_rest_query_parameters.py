"""Query parameters are taken as sent (found by fuzzing): a filter value that is not one of its
values — `null` included — is a 400 naming the parameter, never read as "no filter"; a parameter
given twice is a 400, never half-applied."""

import pytest


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("status=null", "status"),
        ("entity=null", "entity"),
        ("status=QUEUED&status=FAILED", "status"),
        ("first=2&first=3", "first"),
    ],
)
async def test_a_filter_that_cannot_be_applied_is_refused(api, tenant, query, param):
    response = await api.get(f"/jobs?{query}", headers=tenant.headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_parameter", param)


async def test_a_repeated_cursor_on_a_jobs_errors_page_is_refused(api, tenant):
    response = await api.get("/jobs/job_x/errors?after=a&after=b", headers=tenant.headers)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"


async def test_valid_filters_still_apply(api, tenant):
    response = await api.get("/jobs?status=QUEUED&entity=product&first=5", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json()["data"] == []


async def test_the_routers_own_answers_carry_the_request_id(api, tenant):
    response = await api.request("TRACE", "/jobs", headers=tenant.headers)
    assert response.status_code == 405
    assert response.json()["error"]["request_id"] == response.headers["x-request-id"]
    missing = await api.get("/no-such-route")
    assert missing.status_code == 404
    assert missing.json()["error"]["request_id"] == missing.headers["x-request-id"]
