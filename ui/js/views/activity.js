// Activity: what agents are doing. Calls by agent (the grant or the token's label; the token id
// on hover), each outcome in words, refused connections with their reason, filters (agent,
// tool, decision, time) and a chart of calls per minute over the last hour.

import * as api from "../api.js";
import { el, errorBox, table, when } from "../dom.js";
import { callsChart } from "./activity_chart.js";

const RANGES = { "15m": 15 * 60_000, "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, all: Infinity };
const RANGE_NAMES = { "15m": "last 15 min", "1h": "last hour", "24h": "last 24 h", "7d": "last 7 days", all: "all kept" };
const DECISIONS = { all: "every decision", allowed: "allowed", denied: "denied calls", refused: "refused connections" };

export function createActivityView(root) {
  const errors = errorBox();
  const list = el("div", { id: "activity-table" });
  const chart = el("div", { id: "activity-chart-box" });
  const intact = el("p", { id: "audit-integrity", class: "muted" });
  const filters = { agent: "all", tool: "all", decision: "all", range: "24h" };
  const selects = {
    agent: el("select", { id: "filter-agent", "aria-label": "Agent" }),
    tool: el("select", { id: "filter-tool", "aria-label": "Tool" }),
    decision: options(el("select", { id: "filter-decision", "aria-label": "Decision" }), DECISIONS, filters.decision),
    range: options(el("select", { id: "filter-range", "aria-label": "Time" }), RANGE_NAMES, filters.range),
  };
  let rows = [];
  for (const [key, select] of Object.entries(selects)) {
    select.addEventListener("change", () => { filters[key] = select.value; render(); });
  }
  root.append(
    el("h2", {}, "Activity"),
    el("p", { class: "muted" }, "What your agents are doing: every tool call, allowed or denied, and every connection Keygate refused."),
    intact,
    chart,
    el("div", { class: "filters", id: "activity-filters" }, "Show ", selects.agent, selects.tool, selects.decision, selects.range),
    list, errors.node);

  function render() {
    options(selects.agent, byValue(["all", ...unique(rows.map((r) => r.agent))], "every agent"), filters.agent);
    options(selects.tool, byValue(["all", ...unique(rows.map((r) => r.tool))], "every tool"), filters.tool);
    const shown = rows.filter((r) => matches(r, filters, Date.now()));
    // The chart counts tool calls: a refused connection reached no tool (unless that is what is asked for).
    const charted = rows.filter((r) => filters.decision === "refused" || !r.refused_connection);
    chart.replaceChildren(callsChart(charted.filter((r) => matches(r, { ...filters, range: "1h" }, Date.now()))));
    list.replaceChildren(table(["When", "Agent", "Tool", "Credential", "Decision", "Outcome", "Time"], shown.map(row),
      rows.length ? "No calls match these filters." : "No tool calls yet. Connect an agent in Agents, then ask it to use a tool."));
  }

  async function refresh() {
    try {
      rows = await api.activity();
      showIntegrity(intact, await api.integrity());
      errors.clear();
      render();
    } catch (error) {
      errors.show(error);
    }
  }
  return { refresh };
}

// The audit and the rotation log are chained: say whether every row still verifies, or where
// the chain breaks (someone edited, deleted, reordered or inserted a row in vault.db).
function showIntegrity(node, report) {
  const broken = [["Audit", report.audit], ["Rotation log", report.rotation_log]].filter(([, r]) => r.broken);
  node.className = broken.length ? "error" : "muted";
  node.textContent = broken.length
    ? broken.map(([name, r]) => `${name} broken at row ${r.broken.row}: ${r.broken.why}`).join(". ")
    : `Audit intact: ${report.audit.rows} rows verified, and ${report.rotation_log.rows} in the rotation log.`;
}

function matches(r, f, now) {
  if (f.agent !== "all" && r.agent !== f.agent) return false;
  if (f.tool !== "all" && r.tool !== f.tool) return false;
  if (f.decision === "refused" && !r.refused_connection) return false;
  if ((f.decision === "allowed" || f.decision === "denied") && (r.decision !== f.decision || r.refused_connection)) return false;
  return now - new Date(r.at).getTime() <= RANGES[f.range];
}

function unique(values) {
  return [...new Set(values)].sort();
}

function byValue(values, allLabel) {
  return Object.fromEntries(values.map((v) => [v, v === "all" ? allLabel : v]));
}

// Fill `select` with `choices` ({value: label}), keeping `chosen` when it is still there.
function options(select, choices, chosen) {
  select.replaceChildren(...Object.entries(choices).map(([value, label]) => el("option", { value }, label)));
  select.value = keptOrFirst(choices, chosen);
  return select;
}

function keptOrFirst(choices, chosen) {
  return Object.hasOwn(choices, chosen) ? chosen : Object.keys(choices)[0];
}

function row(c) {
  const kind = c.refused_connection ? "refused" : c.decision;
  return el("tr", { class: kind, dataset: { decision: kind, agent: c.agent } },
    el("td", {}, when(c.at)),
    el("td", { class: "agent", title: c.token_id ? `token ${c.token_id}` : "no token was sent" }, c.agent),
    el("td", {}, c.refused_connection ? el("span", { class: "muted" }, "connection") : el("code", {}, c.tool)),
    el("td", {}, credentialText(c)),
    el("td", {}, el("span", { class: `badge ${c.decision}` }, c.refused_connection ? "refused" : c.decision)),
    // Refusals are aggregated: one row may stand for many (count).
    el("td", { class: "outcome", title: c.status || "" }, c.detail + (c.count > 1 ? ` ×${c.count}` : "")),
    el("td", {}, c.duration_ms === null || c.duration_ms === undefined ? "—" : `${c.duration_ms} ms`));
}

// A denied call may name a credential it never opened: then there is no version to show.
function credentialText(c) {
  if (!c.credential) return "—";
  return c.credential_version === null || c.credential_version === undefined
    ? c.credential : `${c.credential} v${c.credential_version}`;
}
