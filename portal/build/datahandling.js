// The data-handling document (docs/data-handling.md), rendered at build time so the portal shows
// exactly what is committed.
import { marked } from 'marked';
import { paths, readText } from './source.js';

export function dataHandling() {
  return { 'data-handling': marked.parse(readText(paths.dataHandling), { async: false }) };
}
