// Reading the committed contract files the portal is generated from (never hand-copied).
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export const paths = {
  schema: join(REPO, 'graphql', 'schema.graphql'),
  operations: join(REPO, 'graphql', 'operations'),
  contracts: join(REPO, 'contracts'),
  openapi: join(REPO, 'contracts', 'openapi.json'),
  mappings: join(REPO, 'contracts', 'mappings'),
  app: join(REPO, 'app'),
  dataHandling: join(REPO, 'docs', 'data-handling.md'),
};

export const ENTITIES = ['product', 'asset', 'campaign', 'audience'];

export function readText(path) {
  return readFileSync(path, 'utf8');
}

export function readJson(path) {
  return JSON.parse(readText(path));
}

/** Every file the generated pages depend on, so the dev server and the build can watch them. */
export function sourceFiles() {
  return [
    paths.schema,
    paths.openapi,
    ...readdirSync(paths.operations).map((name) => join(paths.operations, name)),
    ...ENTITIES.map((entity) => join(paths.contracts, `${entity}.schema.json`)),
    ...readdirSync(paths.mappings).map((name) => join(paths.mappings, name)),
    paths.dataHandling,
  ];
}

/** graphql/operations/*.graphql: {name, file, text, description} in file order. */
export function operations() {
  return readdirSync(paths.operations)
    .filter((name) => name.endsWith('.graphql'))
    .sort()
    .map((file) => {
      const text = readText(join(paths.operations, file));
      const comment = text
        .split('\n')
        .filter((line) => line.startsWith('#'))
        .map((line) => line.replace(/^#\s?/, ''))
        .join(' ');
      const match = /^(query|mutation|subscription)\s+(\w+)/m.exec(text);
      if (!match) throw new Error(`${file}: every operation file holds one named operation`);
      return { file, kind: match[1], name: match[2], text, description: comment };
    });
}

export function operation(name) {
  const found = operations().find((op) => op.name === name);
  if (!found) throw new Error(`graphql/operations has no operation named ${name}`);
  return found;
}

/** The entity's JSON Schema and its first example record. */
export function entitySchema(entity) {
  const schema = readJson(join(paths.contracts, `${entity}.schema.json`));
  if (!schema.examples || !schema.examples.length) {
    throw new Error(`contracts/${entity}.schema.json has no example record`);
  }
  return schema;
}

export function mappingFiles() {
  return readdirSync(paths.mappings)
    .filter((name) => name.endsWith('.json') && !name.endsWith('.schema.json'))
    .sort()
    .map((file) => ({ file, rules: readJson(join(paths.mappings, file)) }));
}

/** Every .py file under app/ (the error catalogue scans them for codes). */
export function pythonSources(dir = paths.app) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== '__pycache__' && entry.name !== 'sandbox' && entry.name !== 'migrations') {
        found.push(...pythonSources(full));
      }
    } else if (entry.name.endsWith('.py')) {
      found.push({ path: relative(REPO, full), text: readText(full) });
    }
  }
  return found;
}
