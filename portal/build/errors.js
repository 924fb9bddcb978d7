// The error catalogue: every code the gateway can return, found in the code and the OpenAPI file,
// explained in portal/content/errors.json. The build fails on a code without an explanation, so a
// new code cannot ship undocumented.
import { readFileSync } from 'node:fs';
import { esc, inline, table } from './html.js';
import { paths, pythonSources, readJson } from './source.js';

const CODE = '"([a-z][a-z0-9_]*)"';
// Constructors and helpers whose first argument is an error code.
const RAISERS = new RegExp(
  String.raw`\b(?:GatewayError|FieldError|NormalisationError|MappingError|PermissionDeniedError|PydanticCustomError|options_error|_error|__init__)\(\s*` +
    CODE,
  'g',
);
const KEYWORD = new RegExp(String.raw`\bcode\s*=\s*` + CODE, 'g');
// HTTPException(extra={"code": …}) and GraphQL extensions={"code": …}.
const DICT_KEY = new RegExp(String.raw`"code":\s*` + CODE, 'g');
// _http_error(request, 406, "not_acceptable", …): the code follows the status.
const AFTER_STATUS = new RegExp(String.raw`\b_http_error\([^,()]+,\s*\d{3},\s*` + CODE, 'g');
// app/records/validation.py translates pydantic's error types into ours: "missing": "required".
const TRANSLATION = /^\s*"[a-z_]+":\s*"([a-z][a-z0-9_]*)",\s*$/gm;
// app/api/rest/errors.py's _CODES names the code of a bare HTTP status: 404: "not_found".
const STATUS_CODES = /^\s*\d{3}:\s*"([a-z][a-z0-9_]*)",\s*$/gm;
// The order a partner meets them in: the call, then its records, then what happens afterwards.
const GROUP_ORDER = [
  'Not yet documented',
  'Authentication',
  'Request',
  'Pagination',
  'Record validation',
  'Platform mapping',
  'Quarantine',
  'Webhooks',
  'Partner reports',
  'Keys',
  'AMS delivery',
];
const EXPLANATIONS = new URL('../content/errors.json', import.meta.url);

function collect(found, code, where) {
  if (!found.has(code)) found.set(code, new Set());
  found.get(code).add(where);
}

function openapiCodes(node, found) {
  if (Array.isArray(node)) {
    node.forEach((item) => openapiCodes(item, found));
  } else if (node && typeof node === 'object') {
    if (typeof node.code === 'string' && /^[a-z][a-z0-9_]*$/.test(node.code)) {
      collect(found, node.code, 'contracts/openapi.json');
    }
    Object.values(node).forEach((value) => openapiCodes(value, found));
  }
}

// super().__init__("name", …) is a code only in an error class (a Periodic task passes its name).
const CLASS = /^class \w+\(([^)]*)\):/gm;

function inErrorClass(text, index) {
  let bases = '';
  for (const match of text.matchAll(CLASS)) {
    if (match.index > index) break;
    bases = match[1];
  }
  return /Error|Exception/.test(bases);
}

/** Map code → set of source files it appears in. */
export function scanCodes() {
  const found = new Map();
  for (const source of pythonSources()) {
    for (const match of source.text.matchAll(RAISERS)) {
      if (match[0].startsWith('__init__') && !inErrorClass(source.text, match.index)) continue;
      collect(found, match[1], source.path);
    }
    for (const pattern of [KEYWORD, DICT_KEY, AFTER_STATUS]) {
      for (const match of source.text.matchAll(pattern)) collect(found, match[1], source.path);
    }
    if (source.path.endsWith('api/rest/errors.py')) {
      const block = /^_CODES = \{[^}]*\}/m.exec(source.text);
      for (const match of (block ? block[0] : '').matchAll(STATUS_CODES)) collect(found, match[1], source.path);
    }
    if (source.path.endsWith('records/validation.py')) {
      for (const match of source.text.matchAll(TRANSLATION)) collect(found, match[1], source.path);
    }
  }
  openapiCodes(readJson(paths.openapi), found);
  return found;
}

export function explanations() {
  return JSON.parse(readFileSync(EXPLANATIONS, 'utf8'));
}

export function errorCatalogue() {
  const known = explanations();
  const found = scanCodes();
  // A code found without an explanation is listed as undocumented (the build stays usable while
  // another change adds a code); tests/e2e/test_portal_content.py fails until it is explained.
  const missing = [...found.keys()].filter((code) => !known.codes[code]).sort();
  for (const code of missing) {
    known.codes[code] = {
      group: 'Not yet documented',
      meaning: 'A new code: its explanation is missing from portal/content/errors.json.',
      action: 'See the message that comes with it.',
    };
  }
  const groups = new Map();
  for (const [code, entry] of Object.entries(known.codes)) {
    const group = entry.group || 'Other';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push([code, entry]);
  }
  const order = (group) => {
    const at = GROUP_ORDER.findIndex((prefix) => group.startsWith(prefix));
    return at < 0 ? GROUP_ORDER.length : at;
  };
  const sorted = [...groups.entries()].sort(([a], [b]) => order(a) - order(b));
  const sections = sorted.map(([group, entries]) => {
    const rows = entries
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([code, entry]) => [
        `<code id="error-${esc(code)}">${esc(code)}</code>`,
        esc(entry.status || '—'),
        inline(entry.meaning),
        inline(entry.action),
        found.has(code) ? [...found.get(code)].sort().map((path) => `<code>${esc(path)}</code>`).join('<br>') : 'documented',
      ]);
    return `<section aria-labelledby="group-${esc(group.toLowerCase().replace(/\W+/g, '-'))}">
<h2 id="group-${esc(group.toLowerCase().replace(/\W+/g, '-'))}">${esc(group)}</h2>
${table(['Code', 'HTTP', 'What it means', 'What to do', 'Raised in'], rows, { caption: `${esc(group)} error codes`, className: 'errors' })}
</section>`;
  });
  return {
    'error-catalogue': sections.join('\n'),
    'error-count': String(Object.keys(known.codes).length),
    manifest: { codes: [...found.keys()].sort(), undocumented: missing },
  };
}
