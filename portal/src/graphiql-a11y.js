// GraphiQL 3's own markup fails a few axe rules; this patches the rendered DOM (and keeps it
// patched as React re-renders): the session tabs become a list of buttons, the CodeMirror text areas
// get labels and the editors' scroll areas are reachable by keyboard.
const EDITOR_LABELS = [
  ['.graphiql-query-editor textarea', 'GraphQL operation'],
  ['.graphiql-editor-tool .graphiql-editor:nth-child(1) textarea', 'Variables (JSON)'],
  ['.graphiql-editor-tool .graphiql-editor:nth-child(2) textarea', 'Headers (JSON)'],
  ['.result-window textarea', 'Response'],
];

function set(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function unset(node, name) {
  if (node.hasAttribute(name)) node.removeAttribute(name);
}

function patch(root) {
  // A list of buttons (the current one marked) instead of GraphiQL's tablist, whose tabs hold
  // a second (close) button that a tablist may not own.
  // (The <ul> also holds the add-tab button directly, so it cannot keep list semantics either.)
  root.querySelectorAll('ul.graphiql-tabs').forEach((list) => {
    set(list, 'role', 'none');
    unset(list, 'aria-label');
  });
  root.querySelectorAll('li.graphiql-tab').forEach((item) => {
    set(item, 'role', 'none');
    unset(item, 'aria-selected');
    const button = item.querySelector('.graphiql-tab-button');
    if (button) {
      unset(button, 'role');
      unset(button, 'aria-selected');
      unset(button, 'aria-controls');
      if (item.classList.contains('graphiql-tab-active')) set(button, 'aria-current', 'true');
      else unset(button, 'aria-current');
    }
  });
  for (const [selector, label] of EDITOR_LABELS) {
    root.querySelectorAll(selector).forEach((area) => set(area, 'aria-label', label));
  }
  root.querySelectorAll('.CodeMirror-scroll').forEach((scroll) => {
    set(scroll, 'tabindex', '0');
    const editor = scroll.closest('.graphiql-editor, .result-window');
    const area = editor && editor.querySelector('textarea');
    set(scroll, 'aria-label', area ? area.getAttribute('aria-label') || 'Editor' : 'Editor');
  });
}

export function keepAccessible(root) {
  patch(root);
  new MutationObserver(() => patch(root)).observe(root, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ['class', 'role', 'aria-selected'],
  });
}
