// @ts-check
// Previewing a body safely: sanitised, sandboxed, loading nothing.

import { api } from "./api.js";
import { h } from "./dom.js";

export const NOT_WRITTEN = ["This field may not be blank.", "This field is required."];
// ---- previewing a body safely -------------------------------------------

export const BLOCKED = ["script", "iframe", "object", "embed", "link", "meta", "base", "form", "frame", "frameset", "style"];

// Attributes with which an element fetches something by itself.
export const LOADING = ["src", "poster", "background", "data", "action", "formaction", "ping", "lowsrc", "dynsrc", "longdesc", "manifest", "codebase", "archive", "cite"];

export function sanitise(html) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  doc.querySelectorAll(BLOCKED.join(",")).forEach((node) => node.remove());
  for (const node of doc.body.querySelectorAll("*")) {
    for (const attr of [...node.attributes]) {
      const name = attr.name.toLowerCase();
      const value = attr.value.trim().toLowerCase();
      // Anything that would load, from anywhere (this server included), unless it is inline data.
      const loads = LOADING.includes(name) || (name.endsWith("href") && node.localName !== "a");
      const styleLoads = name === "style" && /url\s*\(\s*(?!['"]?data:)/.test(value);
      if (name.startsWith("on") || value.startsWith("javascript:") || styleLoads ||
          (loads && !value.startsWith("data:")) || name === "srcset") {
        node.removeAttribute(attr.name);
      }
    }
  }
  return doc.body.innerHTML;
}

export function looksLikeHtml(text) {
  return /<\/?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?\/?>/.test(text);
}

export function previewFrame(body, title) {
  // No scripts (sandbox without allow-scripts) and no loads from anywhere (CSP).
  const csp = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">";
  const escape = (s) => s.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" }[c]));
  const content = looksLikeHtml(body) ? sanitise(body) : `<pre style="white-space:pre-wrap;font:inherit">${escape(body)}</pre>`;
  return h("iframe", { class: "preview", sandbox: "", title, srcdoc: `${csp}<body style="font-family:sans-serif">${content}</body>` });
}

// The mail as one recipient gets it, rendered by the server exactly as delivery does.
/**
 * @param {{ subject: () => string, body: () => string, query?: () => any, forEmail?: () => string }} sources
 */
export function livePreview({ subject, body, query, forEmail }) {
  const box = h("div", { id: "preview", "aria-live": "polite" });
  const problems = h("div", { id: "placeholder-errors", class: "error", role: "alert" });
  let timer;
  let asked = 0;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!subject().trim() && !body().trim()) {
        // Nothing written yet: nothing to ask the server (it would only say "blank").
        ++asked;
        problems.replaceChildren();
        box.replaceChildren(h("p", { class: "muted", text: "The preview appears here as you write." }));
        return;
      }
      const payload = { subject: subject() || " ", body: body() || " " };
      const q = query && query();
      if (q) payload.query = q;
      const email = forEmail && forEmail();
      if (email) payload.email = email;
      const mine = ++asked;
      try {
        const p = (await api("POST", "/api/broadcast-messages/render/", payload)).data;
        if (mine !== asked) return;
        problems.replaceChildren();
        box.replaceChildren(
          h("p", { class: "muted" }, `As ${p.email} gets it — Subject: `, h("strong", { text: p.subject })),
          previewFrame(p.html || p.text, "Preview of the mail"));
      } catch (err) {
        if (mine !== asked) return;
        const fields = err.body && typeof err.body === "object" ? err.body : {};
        const lines = [];
        for (const [field, label] of [["subject", "Subject"], ["body", "Message"], ["email", "Preview for"]]) {
          for (const problem of fields[field] || []) {
            // Not written yet is not a mistake; the form says so when it is saved.
            if (!NOT_WRITTEN.includes(problem)) lines.push(`${label}, ${problem.replace(/^Line (\d+):/, "line $1:")}`);
          }
        }
        if (!lines.length && err.status !== 400) lines.push(err.message);
        problems.replaceChildren(...lines.map((l) => h("p", { text: l })));
        // The last good preview would now be a lie: say there is none instead.
        // Said once, where it is (under the message); the preview points there.
        const where = fields.email && !fields.subject && !fields.body ? "the address in “Preview for”" : "the problem shown under the message";
        if (lines.length) box.replaceChildren(h("p", { class: "muted stale", text: `No preview until ${where} is fixed.` }));
      }
    }, 250);
  };
  return { box, problems, refresh, hasProblems: () => problems.childElementCount > 0 };
}
