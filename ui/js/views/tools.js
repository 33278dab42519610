// Tools: every tool agents can be given (HTTP tools and each fronted server's tools) with the
// credentials it needs and whether it is ready to call. A missing credential has its Add
// right there; a held-back tool points at Servers. Names and descriptions may come from a
// server, so they go in as text.

import * as api from "../api.js";
import { el, errorBox, table } from "../dom.js";
import { go } from "../nav.js";

export function createToolsView(root) {
  const errors = errorBox();
  const list = el("div", { id: "tools-list" });
  const summary = el("p", { id: "tools-summary", class: "muted", role: "status" });
  root.append(
    el("h2", {}, "Tools"),
    el("p", { class: "muted" }, "Every tool you can give an agent, with the key it needs. A tool is ready when its key is in the vault "
      + "(and, for a server's tool, you approved it)."),
    summary, list, errors.node);

  async function refresh() {
    try {
      const tools = await api.toolReadiness();
      errors.clear();
      const waiting = tools.filter((t) => !t.ready).length;
      summary.textContent = tools.length === 0 ? ""
        : waiting === 0 ? `All ${tools.length} tools are ready.` : `${waiting} of ${tools.length} tools are not ready yet.`;
      list.replaceChildren(table(["Tool", "From", "Credential", "Ready", ""], tools.map(row),
        "No tools yet: add a [[tool]] or a [[server]] to config.toml (Open in editor above), then Reload."));
    } catch (error) {
      errors.show(error);
    }
  }
  return { refresh };
}

function row(t) {
  return el("tr", { dataset: { tool: t.tool, ready: String(t.ready) } },
    el("td", { title: t.description || null }, el("code", {}, t.tool),
      t.description ? el("div", { class: "muted small" }, t.description) : null),
    el("td", {}, t.kind === "http" ? "HTTP tool" : `server ${t.server}`),
    el("td", {}, t.credential ? el("code", {}, t.credential) : el("span", { class: "muted" }, "none")),
    el("td", { class: "readiness" }, readiness(t)),
    el("td", { class: "actions" }, fixes(t)));
}

function readiness(t) {
  if (t.ready) return el("span", { class: "badge ok" }, "ready");
  const reasons = [];
  if (t.missing.length) reasons.push(`needs ${t.missing.join(", ")}`);
  if (t.held_back) reasons.push("held back until approved");
  return el("span", { class: "badge due" }, reasons.join("; "));
}

function fixes(t) {
  const buttons = t.missing.map((name) => el("button", { type: "button", class: "add-credential primary", dataset: { credential: name },
    title: `Add ${name} in Credentials`, onclick: () => go("credentials", { add: name }) }, t.missing.length > 1 ? `Add ${name}` : "Add"));
  if (t.held_back) buttons.push(el("button", { type: "button", class: "review", onclick: () => go("servers") }, "Review in Servers"));
  return buttons;
}
