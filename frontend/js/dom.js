// Building DOM without innerHTML: every server string becomes a text node, never markup.

/**
 * h("a", {href: "#/", class: "x", onclick: fn, "aria-label": "..."}, "text", child, [more])
 * Props: `class`, `text`, `dataset`, `on<event>` handlers, booleans (true sets, false omits),
 * everything else an attribute. Children: nodes, strings, numbers, arrays; null is skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = tag.includes(":") ? document.createElementNS("http://www.w3.org/2000/svg", tag.split(":")[1]) : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    // On inputs the attribute is also the default value, so form.reset() goes back to it.
    else if (key === "value" && !(el instanceof HTMLInputElement) && "value" in el) el.value = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An SVG element: svg("line", {x1: 0, ...}). */
export function svg(tag, props = {}, ...children) {
  return h(`svg:${tag}`, props, ...children);
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
/** A page-unique id for label/aria wiring. */
export const newId = (prefix = "id") => `${prefix}-${++uid}`;
