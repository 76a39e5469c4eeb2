// A tiny element builder: h('div', {class: 'x', onclick: fn}, child, ...). No framework:
// views rebuild the parts that change, which is fast enough for tables of a few hundred rows.

/** Creates an element. Attributes starting with `on` become listeners; `dataset` is merged. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key in el && typeof value !== 'string') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `el` with `children`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An SVG element (charts). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Shows a short message in the corner; `kind` is 'ok' or 'error'. */
export function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts');
  const item = h('div', { class: `toast ${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 3500);
}

/** A button that runs `action` once at a time, showing it is busy meanwhile. */
export function actionButton(label, attrs, action) {
  const button = h('button', { type: 'button', ...attrs }, label);
  button.addEventListener('click', async (event) => {
    event.stopPropagation();
    if (button.disabled) return;
    button.disabled = true;
    button.classList.add('busy');
    try {
      await action(button);
    } catch (err) {
      toast(err.message || String(err), 'error');
    } finally {
      button.disabled = false;
      button.classList.remove('busy');
    }
  });
  return button;
}

/** An empty-state panel. */
export function empty(title, detail) {
  return h('div', { class: 'empty' }, h('strong', {}, title), detail ? h('p', {}, detail) : null);
}
