// @ts-check
// Building the page: elements, the screen, messages to the user, busy buttons.

import { store } from "./store.js";

/** The page's element with this id: index.html always has it (a missing one is a
 * bug, said at once rather than as "null" later).
 * @param {string} id
 * @returns {HTMLElement} */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`The page has no element #${id}.`);
  return node;
}

export const statusBox = byId("status");
export const nav = byId("nav");
export const main = byId("main");
/** The event main.js redraws the current screen on (from modules it imports). */
export const REDRAW = "herald:redraw";

export function redraw() {
  window.dispatchEvent(new Event(REDRAW));
}

// ---- small helpers -------------------------------------------------------

/**
 * An element with attributes (`text` sets its text, `on…` adds a listener) and
 * children (strings become text; null, undefined and false are left out).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function say(message) {
  statusBox.textContent = message;
  clearTimeout(store.sayTimer);
  store.sayTimer = setTimeout(() => (statusBox.textContent = ""), 4000);
}

export function show(title, ...content) {
  document.title = `${title} · Herald`;
  main.removeAttribute("aria-busy");
  // A screen may leave a part out (null): replaceChildren would print "null".
  main.replaceChildren(...content.filter((part) => part !== null && part !== undefined && part !== false));
  main.focus();
}

// Each screen starts with loading(), which hands it a token; a screen whose token is
// no longer the newest (the user moved on while it waited) must not draw itself.

export function loading(what) {
  main.setAttribute("aria-busy", "true");
  main.replaceChildren(h("p", { class: "muted loading", role: "status", text: `Loading ${what}…` }));
  return ++store.screenToken;
}

export function stale(token) {
  return token !== store.screenToken;
}

// One date format in the console: the browser's locale, medium ("7 Dec 2026",
// "Dec 7, 2026"), for a day alone as for a moment.
export function day(iso) {
  return iso ? new Date(`${iso}T00:00:00`).toLocaleDateString(undefined, { dateStyle: "medium" }) : "";
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";
}

/** A table's header row; a column of buttons or links has a heading too, for screen
 * readers only ("Actions"), never an empty one. */
export function headerRow(...names) {
  return h("tr", {}, ...names.map((name) => name
    ? h("th", { scope: "col", text: name })
    : h("th", { scope: "col" }, h("span", { class: "visually-hidden", text: "Actions" }))));
}

export function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many || `${one}s`}`;
}

export function splitAddresses(text) {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

export function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// A scrolling region that keyboard users can reach (a wide table on a phone).
export function scroller(label, ...content) {
  return h("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": label }, ...content);
}

// Run `work` with the button disabled and saying what is happening; errors go to `error`.
export function action(button, busyLabel, work, error) {
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    const label = button.textContent;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.textContent = busyLabel;
    if (error) error.textContent = "";
    try {
      await work();
    } catch (err) {
      if (error) error.textContent = err.message; else say(err.message);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.textContent = label;
    }
  });
  return button;
}
