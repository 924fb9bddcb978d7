// The GraphQL-over-HTTP conformance audit (graphql-http's serverAudits) against a running
// gateway. Usage: node graphql_http_audit.mjs <graphql url>; the API key, if any, comes from
// the GRAPHQL_AUDIT_KEY environment variable (kept off the command line).
// Prints one JSON object {total, results: [{id, name, status, reason?}]} and exits 1 when any
// audit is not ok (error, warning or notice), 2 when the audit itself could not run.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const portal = path.resolve(here, "..", "..", "portal");
// Resolved from the portal's node_modules, where `npm ci` installs the devDependency.
const require = createRequire(path.join(portal, "package.json"));
const { serverAudits } = await import(require.resolve("graphql-http"));

const url = process.argv[2];
if (!url) {
  console.error("usage: node graphql_http_audit.mjs <graphql url>");
  process.exit(2);
}
const key = process.env.GRAPHQL_AUDIT_KEY;

function authorised(input, init = {}) {
  const headers = new Headers(init.headers);
  if (key) headers.set("Authorization", `Bearer ${key}`);
  return fetch(input, { ...init, headers });
}

const results = [];
for (const audit of serverAudits({ url, fetchFn: authorised })) {
  let result;
  try {
    result = await audit.fn(); // throws only when the audit cannot run at all
  } catch (error) {
    console.error(`audit ${audit.id} (${audit.name}) could not run: ${error}`);
    process.exit(2);
  }
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    entry.reason = result.reason;
    entry.response = result.response
      ? { status: result.response.status, contentType: result.response.headers.get("content-type") }
      : null;
  }
  results.push(entry);
}
console.log(JSON.stringify({ total: results.length, results }));
process.exit(results.every((result) => result.status === "ok") ? 0 : 1);
