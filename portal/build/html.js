// Small HTML helpers for the generated pages.

export function esc(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** The little Markdown the contracts use in descriptions: `code`, **bold**, paragraphs. */
export function inline(text) {
  return esc(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

export function paragraphs(text) {
  if (!text) return '';
  return String(text)
    .split(/\n\s*\n/)
    .map((part) => `<p>${inline(part.trim())}</p>`)
    .join('\n');
}

export function slug(value) {
  return String(value)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

let blockCount = 0;

/** A copyable code block; `name` labels it for screen readers and the copy button. */
export function codeBlock(code, { language = 'text', name, id } = {}) {
  blockCount += 1;
  const blockId = id || `code-${blockCount}`;
  const label = name ? esc(name) : 'Code';
  return `<figure class="code">
<figcaption><span>${label}</span><button type="button" class="copy" data-copy="${blockId}" aria-label="Copy ${label}">Copy</button></figcaption>
<pre tabindex="0" id="${blockId}" data-language="${esc(language)}" aria-label="${label}"><code>${esc(code.replace(/\n+$/, ''))}</code></pre>
</figure>`;
}

export function table(headers, rows, { caption, className = '' } = {}) {
  const head = headers.map((header) => `<th scope="col">${header}</th>`).join('');
  const body = rows
    .map((cells) => `<tr>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`)
    .join('\n');
  const cap = caption ? `<caption>${caption}</caption>` : '';
  return `<div class="table-wrap" tabindex="0" role="region" aria-label="${esc(
    caption ? caption.replace(/<[^>]+>/g, '') : 'table',
  )}"><table class="${className}">${cap}<thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table></div>`;
}
