// Smart Gateway GraphQL explorer: GraphiQL 3 (CodeMirror 5), bundled locally by Vite.
// No JSX on purpose: React.createElement keeps the build plugin-free.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/graphiql.css';
import './graphiql.css';
import { keepAccessible } from './graphiql-a11y.js';
import { exampleTabs } from './graphiql-tabs.js';

const h = React.createElement;
const STORAGE_KEY = 'gateway.apiKey'; // shared with the portal (src/key.js)
const GRAPHQL_URL = window.location.origin + '/graphql';


function readKey() {
  try {
    return window.localStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return '';
  }
}

function writeKey(value) {
  try {
    if (value) window.localStorage.setItem(STORAGE_KEY, value);
    else window.localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage unavailable (private mode): the key lives for this page only */
  }
}

// The key is read at request time, so every request (including schema
// introspection) carries the latest value. A header typed in GraphiQL's own
// headers editor takes precedence over the field.
const currentKey = { value: readKey() };
const baseFetcher = createGraphiQLFetcher({ url: GRAPHQL_URL });

function makeFetcher() {
  return (graphQLParams, opts) => {
    const key = currentKey.value.trim();
    const auth = key ? { Authorization: 'Bearer ' + key } : {};
    const headers = Object.assign({}, auth, (opts && opts.headers) || {});
    return baseFetcher(graphQLParams, Object.assign({}, opts, { headers }));
  };
}

function App() {
  const [key, setKey] = React.useState(currentKey.value);
  const [applied, setApplied] = React.useState(currentKey.value);
  // A new fetcher makes GraphiQL reload the schema with the new key.
  const fetcher = React.useMemo(() => makeFetcher(), [applied]);

  const onChange = (event) => {
    const value = event.target.value;
    setKey(value);
    currentKey.value = value;
    writeKey(value.trim());
  };
  const apply = () => {
    if (key !== applied) setApplied(key);
  };
  const onKeyDown = (event) => {
    if (event.key === 'Enter') apply();
  };
  const clear = () => {
    setKey('');
    currentKey.value = '';
    writeKey('');
    setApplied('');
  };

  const status = applied.trim() ? 'Key set' : 'No key: requests are anonymous';

  return h(
    'div',
    { className: 'sg-app' },
    h(
      'header',
      { className: 'sg-bar' },
      h('h1', null, 'Smart Gateway — GraphQL explorer'),
      h('a', { href: '/portal/' }, 'Developer portal'),
      h(
        'form',
        {
          className: 'sg-key',
          onSubmit: (event) => {
            event.preventDefault();
            apply();
          },
          autoComplete: 'off',
        },
        h('label', { htmlFor: 'sg-api-key' }, 'API key'),
        h('input', {
          id: 'sg-api-key',
          name: 'api-key',
          type: 'password',
          value: key,
          placeholder: 'Paste a test key',
          autoComplete: 'off',
          spellCheck: false,
          'aria-describedby': 'sg-key-status',
          onChange,
          onBlur: apply,
          onKeyDown,
        }),
        h('button', { type: 'button', onClick: clear }, 'Clear'),
        h('span', { id: 'sg-key-status', className: 'sg-status', role: 'status' }, status),
      ),
    ),
    h(
      'main',
      { className: 'sg-explorer', 'aria-label': 'GraphiQL' },
      h(GraphiQL, {
        fetcher,
        // Preloaded from graphql/operations/ (the same operations the dashboard runs).
        // query + variables name the PushProducts tab, so a reload finds it again instead of
        // GraphiQL adding an untitled tab next to the stored ones.
        query: exampleTabs[0].query,
        variables: exampleTabs[0].variables,
        defaultTabs: exampleTabs,
        defaultEditorToolsVisibility: false,
      }),
    ),
  );
}

const root = document.getElementById('root');
createRoot(root).render(h(App));
keepAccessible(root);
