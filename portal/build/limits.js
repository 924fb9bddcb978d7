// The limits a partner must respect, read from the gateway's own defaults (app/settings.py and
// app/pagination.py) so the guide cannot quote stale numbers.
import { join } from 'node:path';
import { esc, inline, table } from './html.js';
import { REPO, readText } from './source.js';

export const LIMIT_SOURCES = [join(REPO, 'app', 'settings.py'), join(REPO, 'app', 'pagination.py')];

const SETTINGS = [
  ['rate_limit_burst', 'Requests one key may make at once (REST and GraphQL share the bucket).'],
  ['rate_limit_per_second', 'Requests per second one key may sustain (the bucket refills at this rate).'],
  ['webhook_rate_limit_burst', null],
  ['webhook_rate_limit_per_second', null],
  ['auth_failure_burst', null],
  ['auth_failure_per_second', null],
  ['max_records_per_call', 'Records in one JSON call (1 to this); stream NDJSON for more.'],
  ['max_body_bytes', 'Bytes in one JSON body.'],
  ['max_record_bytes', 'Bytes in one record as JSON (an NDJSON line too); assets may be larger by their inline content.'],
];

function number(expression) {
  // Defaults are literals or products of literals (32 * 1024 * 1024).
  if (!/^[\d_.\s*]+$/.test(expression)) return null;
  return expression
    .split('*')
    .map((part) => Number(part.replace(/_/g, '').trim()))
    .reduce((a, b) => a * b, 1);
}

export function limits() {
  const settings = readText(LIMIT_SOURCES[0]);
  const missing = [];
  const rows = SETTINGS.map(([name, explanation]) => {
    const pattern = new RegExp(
      String.raw`^\s{4}${name}: \w+ = Field\(\s*default=([^,]+),(?:[^)]*?description="([^"]*)")?`,
      'm',
    );
    const found = pattern.exec(settings);
    const value = found ? number(found[1]) : null;
    if (value === null) missing.push(name);
    return [
      `<code>GATEWAY_${esc(name.toUpperCase())}</code>`,
      value === null ? 'see the configuration' : esc(value.toLocaleString('en')),
      inline(explanation || (found && found[2]) || ''),
    ];
  });
  const page = /^MAX_PAGE_SIZE = (\d+)/m.exec(readText(LIMIT_SOURCES[1]));
  if (!page) missing.push('MAX_PAGE_SIZE');
  rows.push(['<code>first</code> (pages)', page ? esc(page[1]) : '—', 'Largest page any connection returns.']);
  return {
    values: {
      'limits-table': table(['Setting', 'Default', 'Meaning'], rows, { caption: 'Limits (defaults; a deployment may change them)' }),
    },
    missing,
  };
}
