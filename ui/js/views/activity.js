// Activity: the audit of tool calls, newest first, refreshed as agents work.

import * as api from "../api.js";
import { el, tableView, when } from "../dom.js";

export function createActivityView(root) {
  return tableView(root, {
    id: "activity-table",
    title: "Activity",
    intro: "Tool calls made by agents, allowed and denied (newest 200).",
    headers: ["When", "Tool", "Agent", "Credential", "Decision", "Outcome", "Time"],
    empty: "No tool calls yet. Create a token and connect an agent.",
    load: api.activity,
    row: (c) => el("tr", { class: c.decision },
      el("td", {}, when(c.at)), el("td", {}, el("code", {}, c.tool)), agentCell(c),
      el("td", {}, credentialText(c)),
      el("td", {}, el("span", { class: `badge ${c.decision}` }, c.decision)),
      // Refused requests are aggregated: one row may stand for many (count).
      el("td", { class: "outcome" }, (c.status || "in progress") + (c.count > 1 ? ` ×${c.count}` : "")),
      el("td", {}, c.duration_ms === null || c.duration_ms === undefined ? "—" : `${c.duration_ms} ms`)),
  });
}

// Calls under a grant show the grant's name (the agent); the token id is on hover.
function agentCell(c) {
  if (c.grant) return el("td", { title: c.token_id ? `token ${c.token_id}` : null }, c.grant);
  return el("td", {}, el("code", {}, c.token_id || "—"));
}

// A denied call may name a credential it never opened: then there is no version to show.
function credentialText(c) {
  if (!c.credential) return "—";
  return c.credential_version === null || c.credential_version === undefined
    ? c.credential : `${c.credential} v${c.credential_version}`;
}
