// GraphQL over fetch with the stored key: the dashboard uses only the public API.
import operations from 'virtual:operations';
import { readClient, readKey } from './key.js';

const byName = Object.fromEntries(operations.map((op) => [op.name, op.text]));

export class ApiError extends Error {
  constructor(message, details) {
    super(message);
    this.details = details;
  }
}

function authHeaders() {
  const key = readKey();
  if (!key) throw new ApiError('Enter your API key first.');
  const client = readClient();
  return client ? { Authorization: `Bearer ${key}`, 'Gateway-Client': client } : { Authorization: `Bearer ${key}` };
}

/** Run a named operation from graphql/operations/; throws ApiError on transport or GraphQL errors. */
export async function run(name, variables = {}) {
  const query = byName[name];
  if (!query) throw new ApiError(`Unknown operation ${name}`);
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...authHeaders() },
    body: JSON.stringify({ query, variables, operationName: name }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The gateway answered ${response.status} without JSON.`);
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    const code = first.extensions && first.extensions.code ? `${first.extensions.code}: ` : '';
    throw new ApiError(`${code}${first.message}`, body.errors);
  }
  if (body.error) throw new ApiError(`${body.error.code}: ${body.error.message}`, body.error);
  return body.data;
}

/** GET a JSON document from the sandbox Airtable API with the same key. */
export async function sandbox(path) {
  const response = await fetch(`/sandbox/airtable/v0/${path}`, { headers: authHeaders() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = body.error || {};
    throw new ApiError(`${error.type || response.status}: ${error.message || 'sandbox request failed'}`);
  }
  return body;
}

export { operations };
