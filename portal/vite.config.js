import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

// Static build served by the Python gateway under /portal/.
// Every asset is bundled locally: no CDN is used at run time.
export default defineConfig({
  base: '/portal/',
  root,
  build: {
    outDir: resolve(root, 'dist'),
    emptyOutDir: true,
    sourcemap: false,
    // GraphiQL 3 + CodeMirror 5 make one large (but local) chunk; ~650 KB gzip in total.
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: {
        index: resolve(root, 'index.html'),
        graphiql: resolve(root, 'graphiql.html'),
      },
      onwarn(warning, warn) {
        // Radix UI ships "use client" directives that are meaningless in a static bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
});
