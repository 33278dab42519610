// Servers: the MCP servers Keygate fronts, with their live state, their pinned tools and the
// ones held back (new or changed since approved); approve them and restart a server.
// Everything here comes from the servers themselves, so it goes in as text, cut to size.

import * as api from "../api.js";
import { buttonAction, el, errorBox } from "../dom.js";

const ADD_EXAMPLE = "keygate server add github --secret-env GITHUB_PERSONAL_ACCESS_TOKEN=github_token -- npx -y @modelcontextprotocol/server-github";
const STATES = { running: "running", stopped: "stopped", failed: "failed", loading: "starting up", offline: "Keygate not running" };

// `text` cut to `max` characters; the whole of it goes in the element's title.
function cut(text, max) {
  const chars = [...(text || "")];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}

function clipped(tag, text, max, attributes = {}) {
  return el(tag, { ...attributes, title: text && [...text].length > max ? text : null }, cut(text, max));
}

export function createServersView(root) {
  const errors = errorBox();
  const status = el("p", { id: "servers-status", class: "muted", role: "status" });
  const list = el("div", { id: "servers-list" });
  // Which servers' tool lists were opened or closed, kept across refreshes.
  const open = new Map();
  root.append(
    el("h2", {}, "Servers"),
    el("p", { class: "muted" },
      "MCP servers Keygate launches or connects to for your agents. A tool that is new, or whose description or schema changed "
      + "since you approved the server's tools, is held back from agents until you approve it."),
    status, list, errors.node);

  const act = buttonAction(status, errors, () => refresh());

  const approve = (server, tool) => async (event) => act(event.currentTarget, async () => {
    const approved = await api.approveServerTools(server, tool);
    if (approved.length === 0) return `Nothing to approve in ${server}.`;
    return `Approved ${approved.length} tool${approved.length === 1 ? "" : "s"} of ${server}: ${cut(approved.join(", "), 200)}.`;
  });
  const restart = (server) => async (event) => act(event.currentTarget, async () => {
    status.textContent = `Restarting ${server}…`;
    await api.restartServer(server);
    return `Keygate is restarting ${server}; its tools are checked again as it starts.`;
  });

  async function refresh() {
    try {
      const servers = await api.listServers();
      errors.clear();
      list.replaceChildren(servers.length ? serverTable(servers, open, approve, restart) : emptyState());
    } catch (error) {
      errors.show(error);
    }
  }
  return { refresh };
}

function emptyState() {
  return el("div", { class: "empty-state" },
    el("p", { class: "empty" }, "No servers yet. Put an MCP server you already run behind Keygate: add a [[server]] to "
      + "config.toml (Open in editor, above) and choose Reload, or from a terminal:"),
    el("pre", {}, ADD_EXAMPLE),
    el("p", { class: "muted" }, "Keygate launches it with the key from the vault, and it shows up here with its tools."));
}

function serverTable(servers, open, approve, restart) {
  const rows = servers.flatMap((s) => [serverRow(s, approve, restart), toolsRow(s, open, approve)]);
  return el("table", { class: "servers" },
    el("thead", {}, el("tr", {}, ["Name", "Kind", "State", "PID", "Tools", "Held back", "Last error", ""]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

function serverRow(s, approve, restart) {
  return el("tr", { class: "server-row", dataset: { server: s.name, state: s.state } },
    el("td", {}, el("code", {}, s.name)),
    el("td", {}, s.kind),
    el("td", {}, el("span", { class: `badge ${s.state}` }, STATES[s.state] || cut(s.state, 20))),
    el("td", { class: "pid" }, s.pid ?? "—"),
    el("td", { class: "tools" }, s.tools),
    el("td", { class: "held-back" }, s.held_back ? el("span", { class: "badge held" }, `${s.held_back} held back`) : "0"),
    el("td", { class: "last-error" }, s.last_error ? clipped("span", s.last_error, 80) : "—"),
    el("td", { class: "actions" },
      s.held_back ? el("button", { type: "button", class: "approve-all primary", onclick: approve(s.name, null) }, "Approve all") : null,
      el("button", { type: "button", class: "restart", onclick: restart(s.name) }, "Restart")));
}

function toolsRow(s, open, approve) {
  // Open while tools are held back, unless the person closed it; otherwise as they left it.
  const details = el("details", { class: "server-tools", open: open.get(s.name) ?? s.held_back > 0 },
    el("summary", {}, s.tools ? `Tools of ${s.name} (${s.tools})` : `Tools of ${s.name}`),
    s.tool_list.length ? toolTable(s, approve)
      : el("p", { class: "empty" }, `Not listed yet: its tools are pinned the first time it starts (Restart starts it now).`));
  details.addEventListener("toggle", () => open.set(s.name, details.open));
  return el("tr", { class: "server-tools-row", dataset: { server: s.name } }, el("td", { colspan: 8 }, details));
}

function toolTable(s, approve) {
  return el("table", { class: "tools" },
    el("thead", {}, el("tr", {}, ["Tool", "Exposed as", "State", "SHA-256", "Description", ""]
      .map((h) => el("th", { scope: "col" }, h)))),
    // Held-back tools first: they are what needs a look.
    el("tbody", {}, [...s.tool_list].sort((a, b) => (a.state === "approved") - (b.state === "approved")).map((t) => el("tr", { dataset: { tool: t.tool, state: t.state } },
      el("td", {}, clipped("code", t.tool, 40)),
      el("td", {}, clipped("code", t.exposed_as, 48)),
      el("td", {}, el("span", { class: `badge ${t.state}` }, t.state)),
      el("td", {}, el("code", { class: "sha", title: t.sha256 }, cut(t.sha256, 13))),
      el("td", { class: "description" }, clipped("span", t.description, 120)),
      el("td", { class: "actions" }, t.state === "approved" ? null
        : el("button", { type: "button", class: "approve", onclick: approve(s.name, t.tool) }, "Approve"))))));
}
