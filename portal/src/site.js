// Every portal page: copy buttons on code blocks and the gateway's own address in examples.

export function enhance(root = document) {
  root.querySelectorAll('[data-origin]').forEach((node) => {
    node.textContent = window.location.origin;
  });
  root.querySelectorAll('button[data-copy]').forEach((button) => {
    button.addEventListener('click', async () => {
      const source = document.getElementById(button.dataset.copy);
      const text = source ? source.textContent : '';
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = 'Copied';
      } catch {
        const range = document.createRange();
        range.selectNodeContents(source);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = 'Selected: press Ctrl+C';
      }
      setTimeout(() => {
        button.textContent = 'Copy';
      }, 2000);
    });
  });
}

/** `.examples` groups become tabs: one language at a time, arrow keys move between tabs. */
export function exampleTabs(root = document) {
  root.querySelectorAll('.examples').forEach((group, groupIndex) => {
    const panels = [...group.querySelectorAll(':scope > .example-panel')];
    const list = document.createElement('div');
    list.setAttribute('role', 'tablist');
    list.setAttribute('aria-label', 'Example language');
    list.className = 'tablist';
    const tabs = panels.map((panel, index) => {
      const tab = document.createElement('button');
      const id = `examples-${groupIndex}-${index}`;
      tab.type = 'button';
      tab.id = `${id}-tab`;
      tab.textContent = panel.dataset.label;
      tab.setAttribute('role', 'tab');
      tab.setAttribute('aria-controls', id);
      panel.id = id;
      panel.setAttribute('role', 'tabpanel');
      panel.setAttribute('aria-labelledby', tab.id);
      list.append(tab);
      return tab;
    });
    const select = (chosen) => {
      tabs.forEach((tab, index) => {
        const on = index === chosen;
        tab.setAttribute('aria-selected', String(on));
        tab.tabIndex = on ? 0 : -1;
        panels[index].hidden = !on;
      });
    };
    tabs.forEach((tab, index) => {
      tab.addEventListener('click', () => select(index));
      tab.addEventListener('keydown', (event) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
        if (!step) return;
        const next = (index + step + tabs.length) % tabs.length;
        select(next);
        tabs[next].focus();
      });
    });
    group.prepend(list);
    select(0);
  });
}

exampleTabs();
enhance();
