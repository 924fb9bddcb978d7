import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { precompress } from './build/compress.js';
import { PAGES, portalContent } from './build/plugin.js';

const root = fileURLToPath(new URL('.', import.meta.url));

// Static build served by the Python gateway under /portal/.
// Every asset is bundled locally: no CDN is used at run time. The documentation pages are
// generated at build time from graphql/ and contracts/ (build/plugin.js), so they cannot drift.
export default defineConfig({
  base: '/portal/',
  root,
  // precompress(): .gz and .br siblings of every text asset, served by the gateway as they are.
  plugins: [portalContent(), precompress()],
  build: {
    outDir: resolve(root, 'dist'),
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false }, // every browser the portal supports has modulepreload
    // GraphiQL 3 + CodeMirror 5 make one large (but local) chunk; ~650 KB gzip in total.
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: Object.fromEntries([
        ...PAGES.map(([file]) => [file.replace(/\.html$/, ''), resolve(root, file)]),
        ['graphiql', resolve(root, 'graphiql.html')],
      ]),
      onwarn(warning, warn) {
        // Radix UI ships "use client" directives that are meaningless in a static bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
