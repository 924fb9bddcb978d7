// Vite plugin: writes a gzip and a brotli sibling (`x.js.gz`, `x.js.br`) next to every text file
// the build emits, with node's own zlib, so the gateway serves them without compressing per request
// (app/api/rest/portal_files.py picks one from the request's Accept-Encoding).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

export const COMPRESSIBLE = /\.(html|js|mjs|css|json|svg|txt|map)$/;
// Below this a compressed body saves less than the Content-Encoding round of negotiation costs.
export const MIN_BYTES = 512;

async function siblings(file) {
  const original = await readFile(file);
  if (original.length < MIN_BYTES) return;
  const encoded = {
    gz: await gzipAsync(original, { level: 9 }),
    br: await brotliAsync(original, {
      params: {
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_SIZE_HINT]: original.length,
      },
    }),
  };
  for (const [suffix, body] of Object.entries(encoded)) {
    // A sibling no smaller than the original would only cost bytes: the gateway then sends identity.
    if (body.length < original.length) await writeFile(`${file}.${suffix}`, body);
  }
}

export function precompress() {
  return {
    name: 'portal-precompress',
    apply: 'build',
    async writeBundle(options, bundle) {
      const files = Object.keys(bundle).filter((name) => COMPRESSIBLE.test(name));
      await Promise.all(files.map((name) => siblings(join(options.dir, name))));
    },
  };
}
