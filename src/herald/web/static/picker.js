// @ts-check
// Choosing organisations and offerings: an ARIA combobox.

import { api } from "./api.js";
import { h, say } from "./dom.js";

// ---- choosing organisations and offerings: an ARIA combobox --------------------

export function picker(kind, label, chosen, onChange) {
  const id = `pick-${kind}`;
  const listId = `${id}-list`;
  const input = h("input", { type: "text", id, autocomplete: "off", role: "combobox", "aria-autocomplete": "list",
    "aria-expanded": "false", "aria-controls": listId, placeholder: "Type to search" });
  const list = h("ul", { class: "suggestions", id: listId, role: "listbox", "aria-label": `${label} matching` });
  const chips = h("ul", { class: "chips", "aria-label": `Chosen ${label.toLowerCase()}` });
  let options = [];
  let active = -1;
  const draw = () => chips.replaceChildren(...chosen.map((item) => h("li", {}, item.name,
    h("button", { type: "button", "aria-label": `Remove ${item.name}`, text: "×",
      onclick: () => { chosen.splice(chosen.indexOf(item), 1); draw(); onChange(); } }))));
  const close = () => { options = []; active = -1; list.replaceChildren(); input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant"); };
  const pick = (found) => {
    chosen.push({ uuid: found.uuid, name: found.name });
    input.value = ""; close(); draw(); onChange(); input.focus();
  };
  const highlight = (index) => {
    active = index;
    [...list.children].forEach((li, n) => li.setAttribute("aria-selected", n === index ? "true" : "false"));
    if (index >= 0) input.setAttribute("aria-activedescendant", `${id}-option-${index}`);
  };
  let timer;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const name = input.value.trim();
      if (!name) { close(); return; }
      try {
        const found = await api("GET", `/api/${kind}/?${new URLSearchParams({ name, page_size: "8" })}`);
        options = found.data.filter((f) => !chosen.some((c) => c.uuid === f.uuid));
        list.replaceChildren(...options.map((f, n) => h("li", { id: `${id}-option-${n}`, role: "option", "aria-selected": "false",
          text: f.name, onmousedown: (event) => event.preventDefault(), onclick: () => pick(f) })));
        if (!options.length) list.replaceChildren(h("li", { role: "option", "aria-disabled": "true", class: "muted", text: "Nothing matches" }));
        input.setAttribute("aria-expanded", "true");
        active = -1;
      } catch (err) { say(err.message); }
    }, 200);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && options.length) { event.preventDefault(); highlight((active + 1) % options.length); }
    else if (event.key === "ArrowUp" && options.length) { event.preventDefault(); highlight((active - 1 + options.length) % options.length); }
    else if (event.key === "Enter" && active >= 0) { event.preventDefault(); pick(options[active]); }
    else if (event.key === "Escape") close();
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  draw();
  return h("div", {}, h("label", { for: id, text: label }), input, list, chips);
}
