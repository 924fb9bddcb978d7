// The API key, entered once and kept in this browser (shared by the explorer, quickstart and dashboard).
export const STORAGE_KEY = 'gateway.apiKey';
const listeners = new Set();

export function readKey() {
  try {
    return window.localStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return memory;
  }
}

let memory = '';

export function writeKey(value) {
  memory = value;
  try {
    if (value) window.localStorage.setItem(STORAGE_KEY, value);
    else window.localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage unavailable: the key lives for this page only */
  }
  listeners.forEach((listener) => listener(value));
}

// Operator keys act on the client named per request (Gateway-Client header); client keys need none.
export const CLIENT_STORAGE_KEY = 'gateway.clientId';

export function readClient() {
  try {
    return window.localStorage.getItem(CLIENT_STORAGE_KEY) || '';
  } catch {
    return '';
  }
}

function writeClient(value) {
  try {
    if (value) window.localStorage.setItem(CLIENT_STORAGE_KEY, value);
    else window.localStorage.removeItem(CLIENT_STORAGE_KEY);
  } catch {
    /* storage unavailable */
  }
}

export function onKeyChange(listener) {
  listeners.add(listener);
}

// Key forms on the page show the client being acted on; picking one elsewhere refreshes them.
const clientViews = new Set();

/** Act on this client from now on (operators pick one in the dashboard's client list). */
export function setClient(value) {
  writeClient(value);
  clientViews.forEach((refresh) => refresh());
}

/** A small form: password input, Save and Forget, with a status line. */
export function mountKeyForm(container) {
  container.innerHTML = `<form class="key-form" autocomplete="off">
  <label for="api-key">API key</label>
  <input id="api-key" name="api-key" type="password" spellcheck="false" autocomplete="off" placeholder="gw_test_…" aria-describedby="api-key-status" />
  <label for="client-id">Client <span class="hint">(operator keys only)</span></label>
  <input id="client-id" name="client-id" spellcheck="false" autocomplete="off" placeholder="cli_…" size="16" />
  <button type="submit">Use this key</button>
  <button type="button" data-forget>Forget</button>
  <span id="api-key-status" role="status"></span>
</form>`;
  const form = container.querySelector('form');
  const input = form.querySelector('input');
  const status = form.querySelector('#api-key-status');
  const client = form.querySelector('#client-id');
  client.value = readClient();
  const show = () => {
    const key = readKey();
    const acting = readClient() ? ` acting on ${readClient()}` : '';
    status.textContent = key ? `Key set (${key.slice(0, 16)}…)${acting}, kept in this browser.` : 'No key yet.';
  };
  input.value = readKey();
  show();
  clientViews.add(() => {
    client.value = readClient();
    show();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    writeClient(client.value.trim());
    writeKey(input.value.trim());
    show();
  });
  form.querySelector('[data-forget]').addEventListener('click', () => {
    input.value = '';
    client.value = '';
    writeClient('');
    writeKey('');
    show();
  });
}
