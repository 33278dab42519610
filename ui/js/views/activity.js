// Activity: the audit of tool calls, newest first, refreshed as agents work.

import * as api from "../api.js";
import { el, tableView, when } from "../dom.js";

export function createActivityView(root) {
  return tableView(root, {
    id: "activity-table",
    title: "Activity",
    intro: "Tool calls made by agents, allowed and denied (newest 200).",
    headers: ["When", "Tool", "Token", "Credential", "Decision", "Outcome", "Time"],
    empty: "No tool calls yet. Create a token and connect an agent.",
    load: api.activity,
    row: (c) => el("tr", { class: c.decision },
      el("td", {}, when(c.at)), el("td", {}, el("code", {}, c.tool)), el("td", {}, el("code", {}, c.token_id || "—")),
      el("td", {}, c.credential ? `${c.credential} v${c.credential_version}` : "—"),
      el("td", {}, el("span", { class: `badge ${c.decision}` }, c.decision)),
      // Refused requests are aggregated: one row may stand for many (count).
      el("td", { class: "outcome" }, (c.status || "in progress") + (c.count > 1 ? ` ×${c.count}` : "")),
      el("td", {}, c.duration_ms === null || c.duration_ms === undefined ? "—" : `${c.duration_ms} ms`)),
  });
}
