// Activity: the audit of tool calls, newest first, refreshed as agents work.

import * as api from "../api.js";
import { el, errorBox, table, when } from "../dom.js";

export function createActivityView(root) {
  const errors = errorBox();
  const list = el("div", { id: "activity-table" });
  root.append(el("h2", {}, "Activity"), el("p", { class: "muted" }, "Tool calls made by agents, allowed and denied (newest 200)."), list, errors.node);

  async function refresh() {
    try {
      const calls = await api.activity();
      errors.clear();
      list.replaceChildren(table(["When", "Tool", "Token", "Credential", "Decision", "Outcome", "Time"],
        calls.map((c) => el("tr", { class: c.decision },
          el("td", {}, when(c.at)), el("td", {}, el("code", {}, c.tool)), el("td", {}, el("code", {}, c.token_id || "—")),
          el("td", {}, c.credential ? `${c.credential} v${c.credential_version}` : "—"),
          el("td", {}, el("span", { class: `badge ${c.decision}` }, c.decision)),
          el("td", { class: "outcome" }, c.status || "in progress"),
          el("td", {}, c.duration_ms === null || c.duration_ms === undefined ? "—" : `${c.duration_ms} ms`))),
        "No tool calls yet. Create a token and connect an agent."));
    } catch (error) {
      errors.show(error);
    }
  }
  return { refresh };
}
