// Quickstart examples, generated from graphql/operations/ and the contracts' example records.
import { codeBlock, esc } from './html.js';
import { entitySchema, operation } from './source.js';

const DEFAULT_URL = 'http://127.0.0.1:8000';

/** The body the quickstart pushes: the product contract's own example, with an idempotency key. */
export function firstPush() {
  const example = entitySchema('product').examples[0];
  return {
    query: operation('PushProducts').text,
    variables: { input: { idempotencyKey: 'quickstart-1', records: [example] } },
  };
}

export function watchJob() {
  return { query: operation('WatchJob').text, variables: { id: 'job_…' } };
}

export function readBack() {
  const example = entitySchema('product').examples[0];
  return {
    query: operation('ReadRecords').text,
    variables: { entity: 'PRODUCT', externalIds: [example.external_id] },
  };
}

function curl(body) {
  return `curl -s "$GATEWAY_URL/graphql" \\
  -H "Authorization: Bearer $GATEWAY_KEY" \\
  -H 'Content-Type: application/json' \\
  -d @- <<'JSON'
${JSON.stringify(body, null, 2)}
JSON`;
}

function python(body, { poll = false } = {}) {
  const imports = poll ? ['json', 'os', 'sys', 'time', 'urllib.request'] : ['json', 'os', 'urllib.request'];
  const call = `${imports.map((name) => `import ${name}`).join('\n')}

URL = os.environ.get("GATEWAY_URL", "${DEFAULT_URL}") + "/graphql"
KEY = os.environ["GATEWAY_KEY"]
BODY = json.loads(r"""
${JSON.stringify(body, null, 2)}
""")


def graphql(body):
    request = urllib.request.Request(
        URL,
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)
`;
  if (!poll) return `${call}

print(json.dumps(graphql(BODY), indent=2))`;
  return `${call}

BODY["variables"]["id"] = sys.argv[1]  # the job id the push printed
while True:
    job = graphql(BODY)["data"]["job"]
    print(job["status"], job["counters"])
    if job["status"] in ("SUCCEEDED", "PARTIALLY_SUCCEEDED", "FAILED"):
        print(json.dumps(job["errors"]["nodes"], indent=2))
        break
    time.sleep(1)`;
}

/** One step's examples; src/site.js turns the three panels into tabs (GraphQL, curl, Python). */
function examples(step, body, options = {}) {
  const panel = (label, html) => `<div class="example-panel" data-label="${label}">${html}</div>`;
  return `<div class="examples" data-step="${esc(step)}">
${panel(
  'GraphQL',
  `${codeBlock(body.query, { language: 'graphql', name: `${step}: GraphQL operation`, id: `${step}-graphql` })}
${codeBlock(JSON.stringify(body.variables, null, 2), {
  language: 'json',
  name: `${step}: GraphQL variables`,
  id: `${step}-variables`,
})}`,
)}
${panel('curl', codeBlock(curl(body), { language: 'sh', name: `${step}: curl`, id: `${step}-curl` }))}
${panel('Python', codeBlock(python(body, options), { language: 'python', name: `${step}: Python`, id: `${step}-python` }))}
</div>`;
}

export function quickstartFragments() {
  return {
    'push-examples': examples('push', firstPush()),
    'watch-examples': examples('watch', watchJob(), { poll: true }),
    'read-examples': examples('read', readBack()),
    'push-body': `<script type="application/json" id="push-body">${JSON.stringify(firstPush()).replace(/</g, '\\u003c')}</script>`,
    'example-id': esc(entitySchema('product').examples[0].external_id),
    'default-url': DEFAULT_URL,
  };
}
