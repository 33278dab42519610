// Tokens: create one for chosen tools and a lifetime, shown once with the agents' config
// snippets; active ones with time left and use; revoke in one click; ended ones apart.

import * as api from "../api.js";
import { copyText, el, errorBox, relative, submitting, table, when } from "../dom.js";

export function createTokensView(root) {
  const errors = errorBox();
  const listErrors = errorBox();
  const toolChoices = el("fieldset", { id: "token-tools", class: "choices" }, el("legend", {}, "Tools it may call"));
  const created = el("div", { id: "token-created", hidden: true });
  const active = el("div", { id: "tokens-active" });
  const ended = el("div", { id: "tokens-ended" });
  const form = createForm(toolChoices, errors, (token) => { showCreated(created, token); refresh(); });
  root.append(
    el("h2", {}, "Tokens"),
    el("p", { class: "muted" }, "Give each agent its own short-lived token, scoped to the tools it needs."),
    el("h3", {}, "Create a token"), form, errors.node, created,
    el("h3", {}, "Active"), active, listErrors.node,
    el("h3", {}, "Expired and revoked"), ended);

  async function refresh() {
    try {
      const [tokens, tools] = await Promise.all([api.listTokens(), api.listTools().catch((e) => e)]);
      listErrors.clear();
      renderTools(toolChoices, tools);
      active.replaceChildren(table(["Label", "Id", "Tools", "Expires", "Last used", "Uses", ""],
        tokens.filter((t) => t.status === "active").map((t) => activeRow(t, listErrors, refresh)),
        "No active tokens."));
      ended.replaceChildren(table(["Label", "Id", "Tools", "Status", "Ended", "Uses"],
        tokens.filter((t) => t.status !== "active").map(endedRow), "None."));
    } catch (error) {
      listErrors.show(error);
    }
  }
  return { refresh };
}

function renderTools(fieldset, tools) {
  const chosen = new Set([...fieldset.querySelectorAll("input:checked")].map((i) => i.value));
  const legend = fieldset.querySelector("legend");
  if (tools instanceof Error) {
    fieldset.replaceChildren(legend, el("p", { class: "error", role: "alert" }, tools.message));
    return;
  }
  const boxes = tools.map((tool) => el("label", { class: "choice", title: tool.description },
    el("input", { type: "checkbox", name: "tool", value: tool.name, checked: chosen.has(tool.name) }),
    el("code", {}, tool.name), el("span", { class: "muted" }, ` ${tool.description}`)));
  fieldset.replaceChildren(legend, ...(boxes.length ? boxes : [el("p", { class: "muted" }, "No tools in config.toml yet.")]));
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
      el("p", { class: "muted" }, "Or paste the snippet for your agent:"),
      token.snippets.map((s) => el("details", { class: "snippet", dataset: { client: s.client } },
        el("summary", {}, `${s.client} — ${s.file}`),
        el("pre", {}, s.text),
        el("button", { type: "button", onclick: copy(s.text) }, "Copy snippet"))),
      el("button", { type: "button", id: "token-done", onclick: () => { panel.hidden = true; panel.replaceChildren(); } }, "Done, hide it")));
  panel.hidden = false;
}

function activeRow(t, errors, refresh) {
  const revoke = async () => {
    try {
      await api.revokeToken(t.id);
      await refresh();
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
    el("td", {}, t.status === "expired" ? when(t.expires_at) : "—"), el("td", {}, t.uses));
}
