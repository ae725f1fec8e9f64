// @ts-check
// Signing in and out.

import { api, currentSession, session } from "../api.js";
import { h, nav, redraw, show } from "../dom.js";
import { store } from "../store.js";

// ---- signing in and out -------------------------------------------------

export async function signOut(message, onServer = false) {
  if (onServer) {
    try { await api("DELETE", "/api/session/"); } catch (err) { /* ended already */ }
  }
  session.csrf = ""; session.user = null;
  store.server = null;
  store.unsaved = null;
  document.getElementById("notice").hidden = true;
  document.getElementById("footer").hidden = true;
  nav.hidden = true;
  showSignIn(message);
}

export function showSignIn(message) {
  const error = h("p", { class: "error", id: "sign-in-error", role: "alert", text: message || "" });
  const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true });
  const button = h("button", { type: "submit", text: "Sign in" });
  const form = h("form", { class: "card narrow", "aria-describedby": "sign-in-error" },
    h("label", { for: "token", text: "API token" }),
    h("p", { class: "muted", text: "A staff or support token, made with herald create-staff." }),
    input, error, h("div", { class: "actions" }, button));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      await api("POST", "/api/session/", { token: input.value.trim() }, { signingIn: true });
      await currentSession();
      nav.hidden = false;
      input.value = "";
      redraw(); // where the address pointed: a shared link lands where it led
    } catch (err) {
      error.textContent = err.status === 401 ? "That token is not valid." :
        err.status === 403 ? "This account is neither staff nor support, so it cannot use Herald." : err.message;
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  show("Sign in", h("h1", { text: "Sign in to Herald" }), form);
  input.focus();
}
