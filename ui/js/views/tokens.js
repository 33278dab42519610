// Tokens: create one for chosen tools and a lifetime, shown once (the fallback for an agent
// that can neither connect under a grant nor sign in); active ones with time left and use;
// revoke in one click; ended ones apart.

import * as api from "../api.js";
import { copyText, el, errorBox, relative, submitting, table, when } from "../dom.js";
import { go } from "../nav.js";

export function createTokensView(root) {
  const errors = errorBox();
  const listErrors = errorBox();
  const status = el("p", { id: "tokens-status", class: "muted confirm", role: "status" });
  const toolChoices = el("fieldset", { id: "token-tools", class: "choices" }, el("legend", {}, "Tools it may call"));
  const created = el("div", { id: "token-created", hidden: true });
  const active = el("div", { id: "tokens-active" });
  const ended = el("div", { id: "tokens-ended" });
  const form = createForm(toolChoices, errors, (token) => { showCreated(created, token); refresh(); });
  root.append(
    el("h2", {}, "Tokens"),
    el("p", { class: "muted" }, "A token to paste is the fallback for an agent that can do nothing else: it sits in a file and must live as long as the config does. ",
      "To connect an agent with nothing secret in its config, use the ",
      el("a", { href: "#", id: "tokens-to-agents", onclick: (event) => { event.preventDefault(); document.getElementById("tab-agents").click(); } }, "Agents"),
      " view."),
    el("h3", {}, "Create a token"), form, errors.node, created,
    el("h3", {}, "Active"), status, active, listErrors.node,
    el("h3", {}, "Expired and revoked"), ended);

  async function refresh() {
    try {
      const [tokens, tools] = await Promise.all([api.listTokens(), api.listTools().catch((e) => e)]);
      listErrors.clear();
      renderTools(toolChoices, tools);
      active.replaceChildren(table(["Label", "Id", "Tools", "Expires", "Last used", "Uses", ""],
        tokens.filter((t) => t.status === "active").map((t) => activeRow(t, listErrors, async (text) => { status.textContent = text; await refresh(); })),
        "No active tokens."));
      ended.replaceChildren(table(["Label", "Id", "Tools", "Status", "Ended", "Uses"],
        tokens.filter((t) => t.status !== "active").map(endedRow), "None."));
    } catch (error) {
      listErrors.show(error);
    }
  }
  return { refresh };
}

// The tool checkboxes (named `name`) of `fieldset`, keeping what was ticked. A tool whose key is
// not in the vault says so, and ticking it shows a warning (with Add) before anything is granted.
export function renderTools(fieldset, tools, name = "tool") {
  const chosen = new Set([...fieldset.querySelectorAll("input:checked")].map((i) => i.value));
  const legend = fieldset.querySelector("legend");
  if (tools instanceof Error) {
    fieldset.replaceChildren(legend, el("p", { class: "error", role: "alert" }, tools.message));
    return;
  }
  const warning = el("div", { class: "tool-warning notice warn", role: "alert", hidden: true });
  const boxes = tools.map((tool) => el("label", { class: "choice", title: tool.description },
    el("input", { type: "checkbox", name, value: tool.name, checked: chosen.has(tool.name), onchange: () => warn(fieldset, tools, warning) }),
    el("code", {}, tool.name), el("span", { class: "muted" }, ` ${tool.description}`),
    tool.missing?.length ? el("span", { class: "needs" }, ` needs ${tool.missing.join(", ")}`) : null));
  fieldset.replaceChildren(legend, ...(boxes.length ? boxes : [el("p", { class: "muted" }, "No tools in config.toml yet.")]), warning);
  warn(fieldset, tools, warning);
}

function warn(fieldset, tools, warning) {
  const ticked = new Set([...fieldset.querySelectorAll("input:checked")].map((i) => i.value));
  const lacking = tools.filter((t) => ticked.has(t.name) && t.missing?.length);
  const missing = [...new Set(lacking.flatMap((t) => t.missing))];
  warning.hidden = lacking.length === 0;
  warning.replaceChildren(...(lacking.length === 0 ? [] : [
    el("span", {}, `${lacking.map((t) => t.name).join(", ")} need${lacking.length === 1 ? "s" : ""} ${missing.join(", ")}`
      + `, which ${missing.length === 1 ? "is" : "are"} not in the vault: the agent's calls will fail until you add ${missing.length === 1 ? "it" : "them"}. `),
    ...missing.map((m) => el("button", { type: "button", class: "add-credential", onclick: () => go("credentials", { add: m }) }, `Add ${m}`)),
  ]));
}

function createForm(toolChoices, errors, done) {
  const label = el("input", { id: "token-label", placeholder: "claude-desktop on laptop", autocomplete: "off" });
  const ttl = el("input", { id: "token-ttl", placeholder: "1h (e.g. 30m, 8h, 7d)", autocomplete: "off" });
  const form = el("form", { id: "token-form", class: "grid" },
    el("label", { for: "token-label" }, "Label"), label,
    el("span", {}, ""), toolChoices,
    el("label", { for: "token-ttl" }, "Lifetime"), ttl,
    el("span"), el("button", { type: "submit", id: "token-submit", class: "primary" }, "Create token"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, errors, async () => {
      const tools = [...toolChoices.querySelectorAll("input:checked")].map((i) => i.value);
      const token = await api.createToken(label.value, tools, ttl.value);
      form.reset();
      toolChoices.querySelectorAll("input").forEach((i) => i.dispatchEvent(new Event("change")));
      done(token);
    });
  });
  return form;
}

function showCreated(panel, token) {
  const copied = el("span", { class: "muted", role: "status" });
  const copy = (text) => async () => { copied.textContent = (await copyText(text)) ? "Copied." : "Select and copy it by hand."; };
  panel.replaceChildren(
    el("div", { class: "once" },
      el("p", {}, el("strong", {}, "Copy this token now: it is shown only once."), ` Id ${token.id}, expires ${when(token.expires_at)}.`),
      el("div", { class: "token-line" },
        el("code", { id: "token-value" }, token.token),
        el("button", { type: "button", id: "token-copy", onclick: copy(token.token) }, "Copy"), copied),
      el("p", { id: "token-url", class: "muted" }, `The agent sends it as "Authorization: Bearer …" to ${token.url}.`),
      el("button", { type: "button", id: "token-done", onclick: () => { panel.hidden = true; panel.replaceChildren(); } }, "Done, hide it")));
  panel.hidden = false;
}

function activeRow(t, errors, done) {
  const revoke = async () => {
    try {
      await api.revokeToken(t.id);
      errors.clear();
      await done(`Revoked token ${t.label || t.id}: its next request is refused.`);
    } catch (error) {
      errors.show(error);
    }
  };
  return el("tr", { dataset: { id: t.id } },
    el("td", {}, t.label || "—"), el("td", {}, el("code", {}, t.id)), el("td", {}, t.tools.join(", ")),
    el("td", { title: when(t.expires_at), class: "time-left" }, relative(t.expires_at)),
    el("td", { title: when(t.last_used_at) }, t.last_used_at ? relative(t.last_used_at) : "never"),
    el("td", { class: "uses" }, t.uses),
    el("td", { class: "actions" }, el("button", { type: "button", class: "revoke danger", onclick: revoke }, "Revoke")));
}

function endedRow(t) {
  return el("tr", { dataset: { id: t.id } },
    el("td", {}, t.label || "—"), el("td", {}, el("code", {}, t.id)), el("td", {}, t.tools.join(", ")),
    el("td", {}, el("span", { class: `badge ${t.status}` }, t.status)),
    el("td", {}, when(t.status === "revoked" ? t.revoked_at : t.expires_at)), el("td", {}, t.uses));
}
