// Dashboard for the key's client, through the public GraphQL API (and the sandbox Airtable API
// for the sandbox base view) only. Panels are chosen by the URL hash. Operator keys also get the
// client list (picking a client sets the one the other panels act on) and every client's usage.
import { ApiError, run, sandbox } from './api.js';
import { mountKeyForm, onKeyChange, readClient, readKey, setClient } from './key.js';
import './site.js';

const PANELS = [
  ['overview', 'Overview'],
  ['jobs', 'Jobs'],
  ['quarantine', 'Quarantine'],
  ['health', 'Sync health'],
  ['usage', 'Usage'],
  ['sandbox', 'Sandbox base'],
];
const OPERATOR_PANELS = [
  ['clients', 'Clients'],
  ['clients-usage', 'Usage of all clients'],
];
const PAGE_SIZE = 25;
const ENTITIES = ['PRODUCT', 'ASSET', 'CAMPAIGN', 'AUDIENCE'];
const PLATFORMS = ['HUBSPOT', 'SALESFORCE', 'SHOPIFY', 'WOOCOMMERCE', 'CUSTOM'];
const JOB_STATUSES = ['QUEUED', 'PROCESSING', 'SUCCEEDED', 'PARTIALLY_SUCCEEDED', 'FAILED'];
const QUARANTINE_STATUSES = ['OPEN', 'RESOLVED', 'DISCARDED', 'EXHAUSTED'];

const root = document.getElementById('dashboard');
mountKeyForm(document.getElementById('key-form'));

function esc(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const json = (value) => esc(JSON.stringify(value, null, 2));
const when = (value) => (value ? esc(value.replace('T', ' ').replace(/\.\d+/, '').replace('+00:00', 'Z')) : '—');

function options(values, selected, blank) {
  const first = blank ? `<option value="">${esc(blank)}</option>` : '';
  return first + values.map((v) => `<option${v === selected ? ' selected' : ''}>${esc(v)}</option>`).join('');
}

function tableHtml(caption, headers, rows) {
  if (!rows.length) return `<p class="empty">${esc(caption)}: none.</p>`;
  return `<div class="table-wrap" tabindex="0" role="region" aria-label="${esc(caption)}"><table><caption>${esc(caption)}</caption>
<thead><tr>${headers.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>
<tbody>${rows.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
}

function showError(where, error) {
  const message = error instanceof ApiError ? error.message : `Something went wrong: ${error}`;
  where.innerHTML = `<p class="error" role="alert">${esc(message)}</p>`;
}

/** Cursor pagination: a stack of `after` values, so Previous works without offsets. */
class Pager {
  constructor() {
    this.reset();
  }
  reset() {
    this.stack = [null];
  }
  get after() {
    return this.stack[this.stack.length - 1];
  }
  html(pageInfo) {
    const page = this.stack.length;
    return `<div class="pager"><button type="button" data-page="prev"${page === 1 ? ' disabled' : ''}>Previous</button>
<span>Page ${page}</span><button type="button" data-page="next"${pageInfo.hasNextPage ? '' : ' disabled'}>Next</button></div>`;
  }
  bind(container, pageInfo, reload) {
    container.querySelector('[data-page="prev"]')?.addEventListener('click', () => {
      this.stack.pop();
      reload();
    });
    container.querySelector('[data-page="next"]')?.addEventListener('click', () => {
      this.stack.push(pageInfo.endCursor);
      reload();
    });
  }
}

// ---- Overview -------------------------------------------------------------------------------------

async function overview(panel) {
  const { viewer } = await run('Viewer');
  const steps = ['connectedAt', 'firstSyncAt', 'validatedAt', 'productionReadyAt'];
  const onboarding = viewer.onboarding;
  panel.innerHTML = `<h2>Overview</h2>
<dl class="facts">
  <dt>Client</dt><dd>${esc(viewer.client.name)} (<code>${esc(viewer.client.id)}</code>)</dd>
  <dt>Mode</dt><dd>${esc(viewer.mode)}${viewer.mode === 'TEST' ? ' — writes go to the sandbox' : ''}</dd>
  <dt>Key</dt><dd><code>${esc(viewer.apiKey.prefix)}…</code></dd>
  <dt>Onboarding</dt><dd><strong data-onboarding>${esc(onboarding.status || 'NOT PROVISIONED')}</strong>${onboarding.reason ? ` — ${esc(onboarding.reason)}` : ''}</dd>
</dl>
${tableHtml('Onboarding steps', ['Step', 'Reached'], [['provisioned', when(onboarding.provisionedAt)], ...steps.map((s) => [esc(s.replace(/At$/, '')), when(onboarding[s])])])}
<h3>AMS config</h3>
${viewer.amsConfig ? `<pre tabindex="0" aria-label="AMS config">${json(viewer.amsConfig)}</pre>` : '<p>Not provisioned yet: it is created after the first job.</p>'}`;
}

// ---- Jobs -----------------------------------------------------------------------------------------

const jobsState = { pager: new Pager(), status: '', entity: '' };

function progress(job) {
  const { received, processed } = job.counters;
  const max = Math.max(received, 1);
  return `<progress max="${max}" value="${Math.min(processed, max)}" aria-label="Job ${esc(job.id)} progress">${processed}/${received}</progress> ${processed}/${received}`;
}

async function jobs(panel) {
  const { status, entity, pager } = jobsState;
  const variables = { first: PAGE_SIZE, after: pager.after, status: status || null, entity: entity || null };
  const { jobs: page } = await run('ListJobs', variables);
  const rows = page.nodes.map((job) => [
    `<button type="button" class="link" data-job="${esc(job.id)}">${esc(job.id)}</button>`,
    esc(job.entity),
    `<span class="status status-${esc(job.status.toLowerCase())}">${esc(job.status)}</span>`,
    progress(job),
    `${job.counters.written} written, ${job.counters.quarantined} quarantined, ${job.counters.unchanged} unchanged, ${job.counters.stale} stale`,
    when(job.createdAt),
  ]);
  panel.innerHTML = `<h2>Jobs</h2>
<form class="filters" data-filters>
  <label>Status <select name="status">${options(JOB_STATUSES, status, 'any')}</select></label>
  <label>Entity <select name="entity">${options(ENTITIES, entity, 'any')}</select></label>
  <button type="submit">Filter</button>
</form>
${tableHtml('Jobs, newest first', ['Job', 'Entity', 'Status', 'Progress', 'Counters', 'Created'], rows)}
${pager.html(page.pageInfo)}
<div id="job-detail"></div>`;
  panel.querySelector('[data-filters]').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    Object.assign(jobsState, { status: form.get('status'), entity: form.get('entity') });
    pager.reset();
    render();
  });
  pager.bind(panel, page.pageInfo, render);
  panel.querySelectorAll('[data-job]').forEach((button) =>
    button.addEventListener('click', () => jobDetail(panel.querySelector('#job-detail'), button.dataset.job)),
  );
}

async function jobDetail(container, id) {
  try {
    const { job } = await run('WatchJob', { id });
    if (!job) throw new ApiError(`No job ${id}.`);
    const errors = job.errors.nodes.map((e) => [String(e.index), esc(e.externalId), `<code>${esc(e.path)}</code>`, `<code>${esc(e.code)}</code>`, esc(e.message)]);
    container.innerHTML = `<h3>Job <code>${esc(job.id)}</code></h3>
<p>${esc(job.entity)} via ${esc(job.door)}: <strong>${esc(job.status)}</strong>, ${progress(job)}${job.failureReason ? ` — ${esc(job.failureReason)}` : ''}</p>
<pre tabindex="0" aria-label="Counters">${json(job.counters)}</pre>
${tableHtml(`Record errors of ${job.id}`, ['Index', 'External id', 'Path', 'Code', 'Message'], errors)}
${job.errors.pageInfo.hasNextPage ? '<p>More errors: see the Quarantine panel, filtered by this job.</p>' : ''}`;
  } catch (error) {
    showError(container, error);
  }
}

// ---- Quarantine -----------------------------------------------------------------------------------

const quarantineState = { pager: new Pager(), filter: { status: 'OPEN' } };

function quarantineFilter() {
  const clean = Object.fromEntries(Object.entries(quarantineState.filter).filter(([, v]) => v));
  return Object.keys(clean).length ? clean : null;
}

async function quarantine(panel) {
  const { pager, filter } = quarantineState;
  const { quarantine: page } = await run('Quarantine', { filter: quarantineFilter(), first: PAGE_SIZE, after: pager.after });
  const rows = page.nodes.map((entry) => [
    `<button type="button" class="link" data-entry="${esc(entry.id)}">${esc(entry.id)}</button>`,
    esc(entry.entity),
    esc(entry.platform || '—'),
    esc(entry.externalId || '—'),
    esc(entry.status),
    entry.errors.map((e) => `<code>${esc(e.path)}</code> ${esc(e.code)}`).join('<br>'),
    `<button type="button" class="link" data-job-filter="${esc(entry.jobId)}">${esc(entry.jobId)}</button>`,
  ]);
  panel.innerHTML = `<h2>Quarantine</h2>
<form class="filters" data-filters>
  <label>Status <select name="status">${options(QUARANTINE_STATUSES, filter.status, 'any')}</select></label>
  <label>Entity <select name="entity">${options(ENTITIES, filter.entity, 'any')}</select></label>
  <label>Platform <select name="platform">${options(PLATFORMS, filter.platform, 'any')}</select></label>
  <label>Rule <input name="ruleId" value="${esc(filter.ruleId || '')}" size="12" /></label>
  <label>Job <input name="jobId" value="${esc(filter.jobId || '')}" size="14" /></label>
  <button type="submit">Filter</button>
</form>
${tableHtml('Quarantined records, oldest first', ['Record', 'Entity', 'Platform', 'External id', 'Status', 'Errors', 'Job'], rows)}
${pager.html(page.pageInfo)}
<div id="quarantine-detail"></div>`;
  panel.querySelector('[data-filters]').addEventListener('submit', (event) => {
    event.preventDefault();
    quarantineState.filter = Object.fromEntries(new FormData(event.target).entries());
    pager.reset();
    render();
  });
  pager.bind(panel, page.pageInfo, render);
  panel.querySelectorAll('[data-entry]').forEach((button) =>
    button.addEventListener('click', () => inspect(panel.querySelector('#quarantine-detail'), button.dataset.entry)),
  );
  panel.querySelectorAll('[data-job-filter]').forEach((button) =>
    button.addEventListener('click', () => {
      quarantineState.filter = { jobId: button.dataset.jobFilter };
      pager.reset();
      render();
    }),
  );
}

/** `records[0].price.amount` or `price.amount` → {price: {amount: value}} (a JSON merge patch). */
export function patchFor(path, value) {
  const parts = path.replace(/^records\[\d+\]\.?/, '').split('.').filter(Boolean);
  if (!parts.length || parts.some((part) => /\[\d+\]/.test(part))) {
    throw new ApiError('Give a field path like sku or price.amount (items of lists are fixed by sending the whole list).');
  }
  return parts.reduceRight((inner, part) => ({ [part]: inner }), value);
}

function parseValue(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text; // plain text is a string value
  }
}

async function inspect(container, id) {
  try {
    const { quarantinedRecord: entry } = await run('QuarantinedRecord', { id });
    if (!entry) throw new ApiError(`No quarantined record ${id}.`);
    const firstPath = entry.errors.length ? entry.errors[0].path.replace(/^records\[\d+\]\.?/, '') : '';
    const open = entry.status === 'OPEN' || entry.status === 'EXHAUSTED';
    container.innerHTML = `<h3>Record <code>${esc(entry.id)}</code> — ${esc(entry.status)}</h3>
<p>${esc(entry.entity)}${entry.platform ? ` from ${esc(entry.platform)}` : ''}, record ${entry.index} of job <code>${esc(entry.jobId)}</code>, validated ${entry.attempts} time(s).</p>
<div class="compare">
  <section aria-label="Raw"><h4>Raw (as received)</h4><pre tabindex="0" data-raw>${json(entry.raw)}</pre></section>
  <section aria-label="Mapped"><h4>Mapped</h4><pre tabindex="0" data-mapped>${entry.mapped ? json(entry.mapped) : 'Same as raw.'}</pre></section>
  <section aria-label="Errors"><h4>Errors</h4>${tableHtml('Errors', ['Path', 'Code', 'Message', 'Value'], entry.errors.map((e) => [`<code>${esc(e.path)}</code>`, `<code>${esc(e.code)}</code>`, esc(e.message), esc(e.value ?? '')]))}</section>
</div>
${open ? `<form class="fix" data-fix>
  <h4>Fix a field</h4>
  <label>Field <input name="path" value="${esc(firstPath)}" required /></label>
  <label>New value (JSON, or plain text) <input name="value" required /></label>
  <button type="submit">Fix and validate</button>
</form>
<p class="actions"><button type="button" data-replay>Replay</button> <button type="button" data-discard>Discard</button></p>` : ''}
<div data-outcome role="status" aria-live="polite"></div>`;
    // Each action re-renders this record (inspect), then says what happened in its status line.
    const act = async (work) => {
      const say = (text) => {
        container.querySelector('[data-outcome]').textContent = text;
      };
      try {
        say('Working…');
        say(await work());
      } catch (error) {
        showError(container.querySelector('[data-outcome]'), error);
      }
    };
    container.querySelector('[data-fix]')?.addEventListener('submit', (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      act(async () => {
        const patch = patchFor(String(form.get('path')).trim(), parseValue(String(form.get('value'))));
        const { fixQuarantinedRecord: result } = await run('FixQuarantinedRecord', { id, patch });
        if (result.errors.length) throw new ApiError(result.errors.map((e) => `${e.code}: ${e.message}`).join('; '));
        const record = result.quarantinedRecord;
        await inspect(container, id);
        const still = record.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
        return `Fix applied: ${record.status}${result.outcome ? ` (${result.outcome})` : ''}${still ? `. Still failing: ${still}` : ''}`;
      });
    });
    container.querySelector('[data-replay]')?.addEventListener('click', () =>
      act(async () => {
        const { replayQuarantined: result } = await run('ReplayQuarantined', { ids: [id] });
        if (result.errors.length) throw new ApiError(result.errors.map((e) => `${e.code}: ${e.message}`).join('; '));
        await inspect(container, id);
        return `Replaying ${result.replayed} record(s) in job ${result.jobs.map((j) => j.id).join(', ')}.`;
      }),
    );
    container.querySelector('[data-discard]')?.addEventListener('click', () =>
      act(async () => {
        const { discardQuarantined: result } = await run('DiscardQuarantined', { ids: [id] });
        if (result.errors.length) throw new ApiError(result.errors.map((e) => `${e.code}: ${e.message}`).join('; '));
        await inspect(container, id);
        return `Discarded ${result.discarded} record(s).`;
      }),
    );
  } catch (error) {
    showError(container, error);
  }
}

// ---- Sync health ----------------------------------------------------------------------------------

async function health(panel) {
  const data = await run('SyncHealth');
  const platforms = data.syncHealth.map((p) => [
    esc(p.platform),
    esc(p.connection ? p.connection.status : 'not reported'),
    esc(p.connection?.detail || ''),
    p.lastRuns.map((r) => `${esc(r.entity)}: ${r.recordsSent} sent, ${r.errorCount} errors (${when(r.finishedAt)})`).join('<br>') || '—',
    String(p.errorsLast24h),
  ]);
  const sync = data.viewer.amsSync;
  const entities = sync.entities.map((e) => [esc(e.entity), when(e.lastSyncedAt), String(e.written), String(e.unchanged), String(e.rejected), e.pending ? 'yes' : 'no', esc(e.error || '')]);
  const rejected = sync.records.nodes.map((r) => [esc(r.entity), esc(r.externalId), esc(r.errorType), esc(r.errorMessage)]);
  panel.innerHTML = `<h2>Sync health</h2>
${tableHtml('Partner reports per platform', ['Platform', 'Connection', 'Detail', 'Last runs', 'Errors (24 h)'], platforms)}
${tableHtml('AMS sync per entity', ['Entity', 'Last synced', 'Written', 'Unchanged', 'Rejected', 'Pending', 'Error'], entities)}
${tableHtml('Records the AMS rejected', ['Entity', 'External id', 'Error', 'Message'], rejected)}`;
}

// ---- Usage ----------------------------------------------------------------------------------------

/** Totals per metric for each group of rows (a day, a client and mode). */
function sumBy(rows, key) {
  const totals = new Map();
  rows.forEach((row) => {
    const group = key(row);
    const inner = totals.get(group) || {};
    inner[row.metric] = (inner[row.metric] || 0) + row.value;
    totals.set(group, inner);
  });
  return totals;
}

function barCells(totals, metrics) {
  const peak = Object.fromEntries(metrics.map((m) => [m, Math.max(1, ...[...totals.values()].map((t) => t[m] || 0))]));
  return (values) =>
    metrics.map((m) => {
      const v = values[m] || 0;
      return `<span class="bar" style="--share:${(v / peak[m]).toFixed(3)}" aria-hidden="true"></span> ${v.toLocaleString('en')}`;
    });
}

/** Table rows, one per UTC day, with a bar per metric. */
function dayRows(rows, metrics) {
  const perDay = sumBy(rows, (row) => row.day);
  const cells = barCells(perDay, metrics);
  return [...perDay.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([d, values]) => [esc(d), ...cells(values)]);
}

const day = (date) => date.toISOString().slice(0, 10);
const usageState = { to: day(new Date()), from: day(new Date(Date.now() - 29 * 86400000)) };

async function usage(panel) {
  const { from, to } = usageState;
  const { viewer } = await run('Usage', { from, to });
  const metrics = [...new Set(viewer.usage.map((u) => u.metric))].sort();
  const rows = dayRows(viewer.usage, metrics);
  panel.innerHTML = `<h2>Usage per day</h2>
<form class="filters" data-filters>
  <label>From <input type="date" name="from" value="${esc(from)}" required /></label>
  <label>To <input type="date" name="to" value="${esc(to)}" required /></label>
  <button type="submit">Show</button>
</form>
${tableHtml(`Usage from ${from} to ${to} (UTC days)`, ['Day', ...metrics], rows)}`;
  panel.querySelector('[data-filters]').addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(usageState, Object.fromEntries(new FormData(event.target).entries()));
    render();
  });
}

// ---- Sandbox base ---------------------------------------------------------------------------------

const sandboxState = { base: null, table: null, offsets: [null] };

function cell(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return `<code>${esc(JSON.stringify(value))}</code>`;
  return esc(value);
}

async function sandboxPanel(panel) {
  const { viewer } = await run('Viewer');
  if (viewer.mode !== 'TEST') {
    panel.innerHTML = '<h2>Sandbox base</h2><p>This is a live key: its records go to the real AMS, not the sandbox.</p>';
    return;
  }
  const { bases } = await sandbox('meta/bases');
  if (!bases.length) {
    panel.innerHTML = '<h2>Sandbox base</h2><p data-empty-sandbox>No sandbox base yet: it is provisioned after your first job finishes.</p>';
    return;
  }
  const base = bases.find((b) => b.id === sandboxState.base) || bases[0];
  const { tables } = await sandbox(`meta/bases/${base.id}/tables`);
  const table = tables.find((t) => t.id === sandboxState.table) || tables[0];
  Object.assign(sandboxState, { base: base.id, table: table.id });
  const offset = sandboxState.offsets[sandboxState.offsets.length - 1];
  const page = await sandbox(`${base.id}/${table.id}?pageSize=50${offset ? `&offset=${encodeURIComponent(offset)}` : ''}`);
  const columns = table.fields.map((f) => f.name);
  const rows = page.records.map((r) => columns.map((c) => cell(r.fields[c])));
  panel.innerHTML = `<h2>Sandbox base</h2>
<p>What landed in your sandbox Airtable base, read through the sandbox's Airtable API with your test key.</p>
<form class="filters" data-filters>
  <label>Base <select name="base">${bases.map((b) => `<option value="${esc(b.id)}"${b.id === base.id ? ' selected' : ''}>${esc(b.name)}</option>`).join('')}</select></label>
  <label>Table <select name="table">${tables.map((t) => `<option value="${esc(t.id)}"${t.id === table.id ? ' selected' : ''}>${esc(t.name)}</option>`).join('')}</select></label>
  <button type="submit">Show</button>
</form>
${tableHtml(`${table.name} (${base.name})`, columns, rows)}
<div class="pager"><button type="button" data-sprev${sandboxState.offsets.length === 1 ? ' disabled' : ''}>Previous</button>
<button type="button" data-snext${page.offset ? '' : ' disabled'}>Next</button></div>`;
  panel.querySelector('[data-filters]').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    Object.assign(sandboxState, { base: form.get('base'), table: form.get('table'), offsets: [null] });
    render();
  });
  panel.querySelector('[data-sprev]').addEventListener('click', () => {
    sandboxState.offsets.pop();
    render();
  });
  panel.querySelector('[data-snext]').addEventListener('click', () => {
    sandboxState.offsets.push(page.offset);
    render();
  });
}

// ---- Operators: clients and their usage ---------------------------------------------------------

const roles = new Map(); // key → Promise<'operator' | 'client'>, asked once per key and page load

/** Only operator keys may list clients: the answer to a one-client page says which key this is. */
function keyRole() {
  const key = readKey();
  if (!roles.has(key)) {
    const asked = run('Clients', { first: 1 }).then(
      () => 'operator',
      (error) => {
        const code = error instanceof ApiError && error.details?.[0]?.extensions?.code;
        if (code === 'operator_only') return 'client';
        if (code === 'insufficient_scope') return 'operator'; // an operator key without read
        roles.delete(key);
        throw error;
      },
    );
    roles.set(key, asked);
  }
  return roles.get(key);
}

const clientNames = new Map(); // id → name, from the client list, for the "acting on" line

function actOn(id, name) {
  if (name) clientNames.set(id, name);
  setClient(id);
  if (window.location.hash === '#overview') render();
  else window.location.hash = '#overview';
}

function bindPicks(panel) {
  panel.querySelectorAll('[data-pick]').forEach((button) =>
    button.addEventListener('click', () => actOn(button.dataset.pick, button.dataset.name)),
  );
}

function pickButton(id, name) {
  const label = name ? `${name} (${id})` : id;
  return `<button type="button" class="link" data-pick="${esc(id)}" data-name="${esc(name || '')}" aria-label="Act on ${esc(label)}">Act on</button>`;
}

const clientsState = { pager: new Pager(), search: '' };

async function clientsPanel(panel) {
  const { pager, search } = clientsState;
  const { clients: page } = await run('Clients', { first: PAGE_SIZE, after: pager.after, search: search || null });
  const acting = readClient();
  const rows = page.nodes.map((client) => {
    clientNames.set(client.id, client.name);
    return [
      `${esc(client.name)}${client.id === acting ? ' <strong class="tag" data-acting-row>acting on</strong>' : ''}`,
      `<code>${esc(client.id)}</code>`,
      esc(client.onboardingStatus || 'NOT PROVISIONED'),
      when(client.lastJobAt),
      String(client.openQuarantineCount),
      when(client.createdAt),
      pickButton(client.id, client.name),
    ];
  });
  panel.innerHTML = `<h2>Clients</h2>
<p>Every client, newest first. Pick one to act on: the other panels then show that client's data (in this key's mode).</p>
<form class="filters" role="search" data-filters>
  <label>Name or id starts with <input type="search" name="search" value="${esc(search)}" size="24" spellcheck="false" /></label>
  <button type="submit">Search</button>
</form>
${tableHtml(search ? `Clients starting with “${search}”` : 'Clients, newest first', ['Client', 'Id', 'Onboarding', 'Last job', 'Open quarantine', 'Created', 'Action'], rows)}
${pager.html(page.pageInfo)}`;
  panel.querySelector('[data-filters]').addEventListener('submit', (event) => {
    event.preventDefault();
    clientsState.search = String(new FormData(event.target).get('search') || '').trim();
    pager.reset();
    render();
  });
  pager.bind(panel, page.pageInfo, render);
  bindPicks(panel);
}

const reportState = { ...usageState, mode: '' };

async function clientsUsage(panel) {
  const { from, to, mode } = reportState;
  const { usageReport } = await run('UsageReport', { from, to });
  const rows = usageReport.filter((row) => !mode || row.livemode === (mode === 'LIVE'));
  const metrics = [...new Set(rows.map((row) => row.metric))].sort();
  const perClient = sumBy(rows, (row) => `${row.clientId} ${row.livemode ? 'LIVE' : 'TEST'}`);
  const clientCells = barCells(perClient, metrics);
  const clientRows = [...perClient.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([group, values]) => {
      const [id, livemode] = group.split(' ');
      const name = clientNames.get(id);
      return [`${name ? `${esc(name)} ` : ''}<code>${esc(id)}</code> ${pickButton(id, name)}`, esc(livemode), ...clientCells(values)];
    });
  panel.innerHTML = `<h2>Usage of all clients</h2>
<form class="filters" data-filters>
  <label>From <input type="date" name="from" value="${esc(from)}" required /></label>
  <label>To <input type="date" name="to" value="${esc(to)}" required /></label>
  <label>Mode <select name="mode">${options(['TEST', 'LIVE'], mode, 'both')}</select></label>
  <button type="submit">Show</button>
</form>
${tableHtml(`Totals per client from ${from} to ${to}`, ['Client', 'Mode', ...metrics], clientRows)}
${tableHtml(`All clients per day from ${from} to ${to} (UTC days)`, ['Day', ...metrics], dayRows(rows, metrics))}`;
  panel.querySelector('[data-filters]').addEventListener('submit', (event) => {
    event.preventDefault();
    Object.assign(reportState, Object.fromEntries(new FormData(event.target).entries()));
    render();
  });
  bindPicks(panel);
}

function pickFirst(panel) {
  panel.innerHTML = `<h2>Pick a client</h2>
<p data-pick-client>This is an operator key: it acts on one client at a time. Choose it in <a href="#clients">Clients</a> (or type its id in the Client field above).</p>`;
}

function actingLine(container) {
  const id = readClient();
  const name = clientNames.get(id);
  container.innerHTML = id
    ? `<p class="acting" data-acting>Acting on ${name ? `<strong>${esc(name)}</strong> ` : ''}<code>${esc(id)}</code> — <a href="#clients">choose another client</a></p>`
    : '';
}

// ---- Shell ----------------------------------------------------------------------------------------

const RENDERERS = { overview, jobs, quarantine, health, usage, sandbox: sandboxPanel };
const OPERATOR_RENDERERS = { clients: clientsPanel, 'clients-usage': clientsUsage };

function current(operator) {
  const name = window.location.hash.slice(1);
  if (RENDERERS[name] || (operator && OPERATOR_RENDERERS[name])) return name;
  return operator && !readClient() ? 'clients' : 'overview';
}

function tabs(panels, name) {
  return `<nav aria-label="Dashboard" class="tabs"><ul>${panels
    .map(([id, title]) => `<li><a href="#${id}"${id === name ? ' aria-current="page"' : ''}>${esc(title)}</a></li>`)
    .join('')}</ul></nav>`;
}

async function render() {
  if (!readKey()) {
    root.innerHTML = `${tabs(PANELS, current(false))}
<section id="panel" aria-busy="false"><p>Enter your API key above to see your jobs, quarantine and sandbox.</p></section>`;
    return;
  }
  root.innerHTML = '<section id="panel" aria-busy="true"><p>Loading…</p></section>';
  let operator = false;
  try {
    operator = (await keyRole()) === 'operator';
  } catch (error) {
    const panel = root.querySelector('#panel');
    showError(panel, error);
    panel.setAttribute('aria-busy', 'false');
    return;
  }
  const name = current(operator);
  root.innerHTML = `${tabs(operator ? [...OPERATOR_PANELS, ...PANELS] : PANELS, name)}
<div id="acting"></div>
<section id="panel" aria-busy="true"><p>Loading…</p></section>`;
  const panel = root.querySelector('#panel');
  if (operator) actingLine(root.querySelector('#acting'));
  try {
    if (OPERATOR_RENDERERS[name]) await OPERATOR_RENDERERS[name](panel);
    else if (operator && !readClient()) pickFirst(panel);
    else await RENDERERS[name](panel);
  } catch (error) {
    showError(panel, error);
  }
  panel.setAttribute('aria-busy', 'false');
}

window.addEventListener('hashchange', render);
onKeyChange(render);
render();
