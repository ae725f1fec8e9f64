// @ts-check
// Languages as staff read them (SPEC 2.3): "Estonian (et)", and who reads which
// variant, as the server counts it (X-Variant-Counts).

import { h } from "./dom.js";

const names = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames(undefined, { type: "language" }) : null;

/** "Estonian (et)"; the tag alone when the browser has no name for it. @param {string} tag */
export function languageName(tag) {
  let name = "";
  try { name = (names && names.of(tag)) || ""; } catch (err) { name = ""; }
  return name && name.toLowerCase() !== tag ? `${name} (${tag})` : tag;
}

/** "Estonian (et): 1,204 · Default: 8,311" from `et=1204, =8311`. @param {string | null} header */
export function variantLine(header) {
  if (!header) return "";
  return header.split(", ").map((part) => {
    const [tag, count] = part.split("=");
    return `${tag ? languageName(tag) : "Default"}: ${Number(count).toLocaleString()}`;
  }).join(" · ");
}

/** The tag a person typed, as the server keeps it, or null when it is not one. @param {string} value */
export function readTag(value) {
  const tag = value.trim().toLowerCase();
  return /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/.test(tag) && tag.length <= 35 ? tag : null;
}

/**
 * One tab per language over the subject and message: the default first, then each
 * translation; add one by its tag, remove the one shown.
 * @param {{ subject: string, body: string, translations: Record<string, {subject: string, body: string}> }} draft
 * @param {() => string} current
 * @param {(tag: string) => void} choose
 */
export function languageTabs(draft, current, choose) {
  const element = h("div", { class: "language-tabs" });
  const redraw = () => {
    const tags = Object.keys(draft.translations).sort();
    const now = current();
    const list = h("div", { role: "tablist", "aria-label": "Languages" },
      ...["", ...tags].map((tag) => h("button", {
        type: "button", role: "tab", id: `tab-${tag || "default"}`,
        "aria-selected": String(tag === now), class: tag === now ? "tab current" : "tab",
        text: tag ? languageName(tag) : "Default",
        onclick: () => { choose(tag); redraw(); },
      })));
    const newTag = h("input", { type: "text", id: "new-language", maxlength: 35, placeholder: "et, pt-br…", "aria-describedby": "language-help" });
    const problem = h("span", { class: "error", role: "alert" });
    const add = h("button", { type: "button", class: "secondary", text: "Add translation", onclick: () => {
      const tag = readTag(newTag.value);
      if (!tag) { problem.textContent = "Give a language tag such as et or pt-br."; newTag.focus(); return; }
      if (tag in draft.translations) { problem.textContent = `There is a ${languageName(tag)} translation already.`; return; }
      if (Object.keys(draft.translations).length >= 30) { problem.textContent = "At most 30 translations."; return; }
      // A new translation starts as a copy of the default, to translate in place.
      draft.translations[tag] = { subject: draft.subject, body: draft.body };
      choose(tag);
      redraw();
    } });
    const tag = now;
    const remove = tag ? h("button", { type: "button", class: "danger", text: `Remove ${languageName(tag)}`, onclick: () => {
      delete draft.translations[tag];
      choose("");
      redraw();
    } }) : null;
    element.replaceChildren(list,
      h("div", { class: "actions" },
        h("div", {}, h("label", { for: "new-language", text: "Language of a translation" }), newTag), add, remove, problem),
      h("p", { class: "muted", id: "language-help", text: "Readers get the translation of their language in the portal, " +
        "else of its base language (pt-br → pt), else the default." }));
  };
  redraw();
  return { element, redraw };
}
