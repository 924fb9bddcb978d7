// Vite plugin: fills `<!--generated:name-->` placeholders in the pages with HTML generated from
// the committed contracts, serves `virtual:operations` (graphql/operations/*.graphql) to the
// scripts, and writes portal-manifest.json (source digests + error codes) for the tests.
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import { dataHandling } from './datahandling.js';
import { errorCatalogue } from './errors.js';
import { esc } from './html.js';
import { LIMIT_SOURCES, limits } from './limits.js';
import { mappingReference } from './mappings.js';
import { firstPush, quickstartFragments } from './quickstart.js';
import { entityReference, graphqlReference, restReference } from './reference.js';
import { REPO, operations, readText, sourceFiles } from './source.js';

export const PAGES = [
  ['index.html', 'Overview'],
  ['quickstart.html', 'Quickstart'],
  ['guide.html', 'Integration guide'],
  ['errors.html', 'Error catalogue'],
  ['mappings.html', 'Mapping rules'],
  ['reference-graphql.html', 'GraphQL reference'],
  ['reference-entities.html', 'Entity contracts'],
  ['reference-rest.html', 'REST reference'],
  ['data-handling.html', 'Data handling'],
  ['dashboard.html', 'Dashboard'],
];

const PLACEHOLDER = /<!--generated:([\w-]+)-->/g;
const VIRTUAL = 'virtual:operations';

function nav(page) {
  const items = PAGES.map(([file, title]) => {
    const current = file === page ? ' aria-current="page"' : '';
    return `<li><a href="/portal/${file === 'index.html' ? '' : file}"${current}>${esc(title)}</a></li>`;
  });
  items.push('<li><a href="/graphql">GraphQL explorer</a></li>');
  return `<nav aria-label="Portal"><ul>${items.join('')}</ul></nav>`;
}

// What every documentation page shares, so each page file holds only its own content.
const HEAD = `<meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <link rel="stylesheet" href="./src/portal.css" />`;

function siteHeader(page) {
  return `<a class="skip-link" href="#content">Skip to content</a>
    <header class="site-header">
      <p class="brand"><a href="/portal/">Smart Gateway</a></p>
      ${nav(page)}
    </header>`;
}

const SITE_FOOTER = `<footer class="site-footer">
      <p>Smart Gateway developer portal. Generated from <code>graphql/</code> and <code>contracts/</code> at build time; every asset is served by the gateway.</p>
    </footer>`;

function fragments() {
  const { manifest, ...catalogue } = errorCatalogue();
  const limited = limits();
  return {
    manifest: { ...manifest, limitsMissing: limited.missing },
    values: {
      ...limited.values,
      ...quickstartFragments(),
      ...graphqlReference(),
      ...entityReference(),
      ...restReference(),
      ...mappingReference(),
      ...dataHandling(),
      ...catalogue,
    },
  };
}

export function portalContent() {
  let cache = null;
  const generated = () => (cache ||= fragments());
  return {
    name: 'portal-content',
    buildStart() {
      cache = null;
      for (const file of [...sourceFiles(), ...LIMIT_SOURCES]) this.addWatchFile(file);
    },
    resolveId(id) {
      return id === VIRTUAL ? `\0${VIRTUAL}` : null;
    },
    load(id) {
      if (id !== `\0${VIRTUAL}`) return null;
      // The example variables come from the contracts too (the quickstart's first push).
      const variables = { PushProducts: firstPush().variables };
      return `export default ${JSON.stringify(operations())};\nexport const exampleVariables = ${JSON.stringify(variables)};`;
    },
    transformIndexHtml: {
      // Before Vite processes the HTML, so the injected stylesheet link is bundled like any other.
      order: 'pre',
      handler(html, ctx) {
        const page = (ctx.filename || ctx.path).split('/').pop();
        const { values } = generated();
        return html.replace(PLACEHOLDER, (_, name) => {
          if (name === 'head') return HEAD;
          if (name === 'site-header') return siteHeader(page);
          if (name === 'site-footer') return SITE_FOOTER;
          if (!(name in values)) throw new Error(`${page}: no generated fragment named ${name}`);
          return values[name];
        });
      },
    },
    generateBundle() {
      const sources = Object.fromEntries(
        sourceFiles()
          .sort()
          .map((file) => [relative(REPO, file), createHash('sha256').update(readText(file)).digest('hex')]),
      );
      const { manifest } = generated();
      this.emitFile({
        type: 'asset',
        fileName: 'portal-manifest.json',
        source: JSON.stringify({ sources, errors: manifest, pages: PAGES.map(([file]) => file) }, null, 2),
      });
    },
  };
}
