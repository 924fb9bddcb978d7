"""GraphQL over HTTP media types: which one a client accepts, whether a POST body is JSON, and
whether a result failed before execution (the case `application/graphql-response+json` answers
with a 4xx)."""

from strawberry.types import ExecutionResult

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_ANY = {"*/*", "application/*"}


def negotiate(accept: str | None) -> str | None:
    """The response media type for this Accept header: the GraphQL one when the client ranks it
    at least as high as JSON, JSON for legacy clients (and no Accept header at all), None when
    the client accepts neither."""
    if not accept or not accept.strip():
        return JSON
    ranks = _qualities(accept)
    graphql = ranks.get(GRAPHQL_RESPONSE, 0.0)
    json = max(ranks.get(JSON, 0.0), *(ranks.get(wildcard, 0.0) for wildcard in _ANY))
    if graphql > 0 and graphql >= json:
        return GRAPHQL_RESPONSE
    if json > 0:
        return JSON
    return None


def _qualities(accept: str) -> dict[str, float]:
    ranks: dict[str, float] = {}
    for entry in accept.split(","):
        media_type, *parameters = (part.strip() for part in entry.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media_type = media_type.lower()
        if media_type:
            ranks[media_type] = max(ranks.get(media_type, 0.0), quality)
    return ranks


def unsupported_content_type(method: str, content_type: str | None) -> bool:
    """POST bodies are JSON (`application/json`, any charset parameter); GET has no body."""
    if method != "POST":
        return False
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type != JSON


def is_request_error(result: ExecutionResult) -> bool:
    """Nothing was executed: the document did not parse or validate, or the variables did not
    coerce. Those errors carry no field `path`; execution errors always do."""
    return (
        result.data is None
        and bool(result.errors)
        and all(not error.path for error in result.errors or [])
    )
