// Mapping rules per platform, rendered from contracts/mappings/<platform>.<entity>[.variant].json.
import { esc, inline, table } from './html.js';
import { mappingFiles } from './source.js';

function label(file) {
  const [platform, entity, variant] = file.replace(/\.json$/, '').split('.');
  return { platform, entity, variant, title: `${platform} → ${entity}${variant ? ` (${variant})` : ''}` };
}

function args(rule) {
  if (!rule.args) return '';
  return `<code>${esc(JSON.stringify(rule.args))}</code>`;
}

export function mappingReference() {
  const files = mappingFiles();
  const platforms = [...new Set(files.map(({ file }) => label(file).platform))];
  const sections = platforms.map((platform) => {
    const parts = files
      .filter(({ file }) => label(file).platform === platform)
      .map(({ file, rules }) => {
        const { title } = label(file);
        const id = `map-${file.replace(/\.json$/, '').replace(/\./g, '-')}`;
        const rows = (rules.rules || []).map((rule) => [
          `<code>${esc(rule.target)}</code>`,
          rule.source ? `<code>${esc(rule.source)}</code>` : rule.value !== undefined ? `constant <code>${esc(JSON.stringify(rule.value))}</code>` : '—',
          `<code>${esc(rule.transform || 'copy')}</code> ${args(rule)}`,
          rule.required ? '<strong>required</strong>' : '',
          inline(rule.note || ''),
        ]);
        return `<section id="${id}" aria-labelledby="${id}-h">
<h3 id="${id}-h">${esc(title)}</h3>
<p>${inline(rules.description || '')} <a href="#${id}">Source: <code>contracts/mappings/${esc(file)}</code></a></p>
${table(['Standard field', 'Native field', 'Transform', 'Required', 'Note'], rows, { caption: `${esc(title)} mapping rules` })}
</section>`;
      });
    return `<section id="platform-${esc(platform)}" aria-labelledby="platform-${esc(platform)}-h">
<h2 id="platform-${esc(platform)}-h">${esc(platform)}</h2>
${parts.join('\n')}
</section>`;
  });
  const index = platforms.map((platform) => `<li><a href="#platform-${esc(platform)}">${esc(platform)}</a></li>`);
  return { 'mapping-index': `<ul>${index.join('')}</ul>`, 'mapping-tables': sections.join('\n') };
}
