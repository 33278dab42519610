// Agents: the agent clients found on this computer and whether Keygate is in their config
// (Connect under a grant, Disconnect), the grants with their recent calls (Revoke), and OAuth
// sign-ins waiting for consent. Paths, names and errors come from files and clients, so they
// go in as text, cut to size.

import * as api from "../api.js";
import { buttonAction, el, errorBox, relative, submitting, when } from "../dom.js";
import { renderTools } from "./tokens.js";

const NEW_GRANT = "";
const ENTRY = { absent: "not connected", connected: "connected", other: "another keygate entry", unreadable: "unreadable" };

function cut(text, max) {
  const chars = [...(text || "")];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : chars.join("");
}

function until(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

export function createAgentsView(root) {
  const errors = errorBox();
  const status = el("p", { id: "agents-status", class: "muted", role: "status" });
  const pending = el("div", { id: "agents-pending" });
  const cli = el("div", { id: "agents-cli" });
  const clients = el("div", { id: "agents-clients" });
  const grants = el("div", { id: "agents-grants" });
  let latest = { clients: [], grants: [] };
  const connect = connectPanel(() => latest, (message) => { status.textContent = message; refresh(); });
  root.append(
    el("h2", {}, "Agents"),
    el("p", { class: "muted" },
      "Connect an agent in one click: its config gets a `keygate` entry that holds no secret and mints short-lived tokens "
      + "under a grant (the tools it may call), which you can revoke here at any time."),
    pending, status, errors.node, cli,
    el("h3", {}, "Agents on this computer"), clients, connect.node,
    el("h3", {}, "Grants"), grants);

  const act = buttonAction(status, errors, () => refresh());
  const actions = {
    connect: (client) => connect.open(client),
    disconnect: (client) => (event) => act(event.currentTarget, () => api.disconnectClient(client.client)),
    revoke: (name) => (event) => act(event.currentTarget, async () => {
      const newly = await api.revokeGrant(name);
      return newly ? `Revoked grant ${name}: every token minted under it is refused from its next request on.` : `Grant ${name} was already revoked.`;
    }),
    consent: (request) => (event) => act(event.currentTarget, async () => {
      await api.openConsent(request.id);
      return `Opened the consent page for ${request.client_name} in your browser.`;
    }),
  };

  async function refresh() {
    try {
      const [overview, tools] = await Promise.all([api.listAgents(), api.listTools().catch((e) => e)]);
      latest = overview;
      errors.clear();
      pending.replaceChildren(...pendingList(overview.pending, actions), ...pendingError(overview.pending_error));
      cli.replaceChildren(overview.cli.missing
        ? el("p", { class: "error", role: "alert", dataset: { code: overview.cli.missing.code } }, overview.cli.missing.message)
        : el("p", { class: "muted" }, "Connected agents launch ", el("code", {}, overview.cli.path), "."));
      clients.replaceChildren(...clientList(overview.clients, actions));
      grants.replaceChildren(grantTable(overview.grants, overview.clients, actions));
      connect.update(overview, tools);
    } catch (error) {
      errors.show(error);
    }
  }
  return { refresh };
}

function pendingList(requests, actions) {
  if (!requests.length) return [];
  return [el("div", { class: "once" },
    el("h3", {}, "Waiting for your consent"),
    el("ul", { class: "pending" }, requests.map((r) => el("li", { dataset: { request: r.id } },
      el("strong", {}, cut(r.client_name, 60)), ` asks for access (until ${until(r.expires_at)}) `,
      el("button", { type: "button", class: "open-consent primary", onclick: actions.consent(r) }, "Open consent page")))),
    el("p", { class: "muted" }, "Only allow it if you just started that sign-in in the agent."))];
}

function pendingError(error) {
  if (!error) return [];
  return [el("p", { class: "error", role: "alert", dataset: { code: error.code } },
    `Sign-ins waiting for consent cannot be listed: ${cut(error.message, 400)}`)];
}

function clientList(clients, actions) {
  const found = clients.filter((c) => c.installed);
  const missing = clients.filter((c) => !c.installed);
  const rows = found.map((c) => el("tr", { dataset: { client: c.client, state: c.keygate } },
    el("td", {}, c.name),
    el("td", {}, el("code", { class: "path", title: c.config }, cut(c.config, 70))),
    el("td", { class: "keygate" },
      el("span", { class: `badge ${c.keygate === "connected" ? "ok" : c.keygate === "unreadable" ? "due" : ""}` }, ENTRY[c.keygate] || cut(c.keygate, 20)),
      c.grant ? [" grant ", el("code", {}, c.grant)] : null,
      c.problem ? el("div", { class: "error" }, cut(c.problem, 300)) : null),
    el("td", { class: "actions" },
      el("button", { type: "button", class: "connect primary", onclick: () => actions.connect(c) }, c.keygate === "connected" ? "Change grant" : "Connect"),
      c.keygate === "connected" || c.keygate === "other"
        ? el("button", { type: "button", class: "disconnect", onclick: actions.disconnect(c) }, "Disconnect") : null)));
  const table = rows.length ? el("table", { class: "clients" },
    el("thead", {}, el("tr", {}, ["Agent", "Config file", "Keygate", ""].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows)) : el("p", { class: "empty" }, "No agent found on this computer yet. Install and start one, then come back.");
  const others = missing.length
    ? el("p", { class: "muted" }, `Not found here: ${missing.map((c) => c.name).join(", ")}. For a project's config, use \`keygate client connect CLIENT --grant NAME --project DIR\`.`)
    : null;
  return [table, others].filter(Boolean);
}

function grantTable(grants, clients, actions) {
  if (!grants.length) return el("p", { class: "empty" }, "No grants yet: Connect an agent above to create its grant.");
  const rows = grants.flatMap((g) => {
    const users = clients.filter((c) => c.grant === g.name).map((c) => c.name);
    const row = el("tr", { class: "grant-row", dataset: { grant: g.name, status: g.status } },
      el("td", {}, el("code", {}, g.name)),
      el("td", {}, g.tools.join(", ")),
      el("td", {}, g.token_ttl),
      el("td", {}, el("span", { class: `badge ${g.status === "active" ? "ok" : g.status}` }, g.status),
        g.expires_at && g.status === "active" ? el("span", { class: "muted", title: when(g.expires_at) }, ` ends ${relative(g.expires_at)}`) : null),
      el("td", { class: "minted" }, g.tokens_minted),
      el("td", { title: when(g.last_used_at) }, g.last_used_at ? relative(g.last_used_at) : "never"),
      el("td", {}, users.length ? users.join(", ") : "—"),
      el("td", { class: "actions" }, g.status === "active"
        ? el("button", { type: "button", class: "revoke danger", onclick: actions.revoke(g.name) }, "Revoke") : null));
    return g.recent_calls.length ? [row, callsRow(g)] : [row];
  });
  return el("table", { class: "grants" },
    el("thead", {}, el("tr", {}, ["Grant", "Tools", "Token lifetime", "Status", "Tokens minted", "Last used", "Connected", ""]
      .map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

function callsRow(g) {
  return el("tr", { class: "grant-calls", dataset: { grant: g.name } }, el("td", { colspan: 8 },
    el("details", {}, el("summary", {}, `Recent calls of ${g.name} (${g.recent_calls.length})`),
      el("table", { class: "calls" }, el("tbody", {}, g.recent_calls.map((c) => el("tr", { class: c.decision },
        el("td", {}, when(c.at)),
        el("td", {}, el("code", {}, cut(c.server && !c.tool.startsWith(`${c.server}_`) ? `${c.server}_${c.tool}` : c.tool, 64))),
        el("td", {}, el("span", { class: `badge ${c.decision}` }, c.decision)),
        el("td", {}, c.status || "in progress"),
        el("td", {}, c.duration_ms === null || c.duration_ms === undefined ? "—" : `${c.duration_ms} ms`))))))));
}

// The Connect panel: pick an active grant or create one (name, tools, token lifetime).
function connectPanel(latest, done) {
  const errors = errorBox();
  const title = el("h3", {});
  const grant = el("select", { id: "connect-grant" });
  const name = el("input", { id: "grant-name", autocomplete: "off", spellcheck: "false", pattern: "[a-z0-9][a-z0-9\\-]{0,31}", placeholder: "cursor" });
  const ttl = el("input", { id: "grant-ttl", autocomplete: "off", placeholder: "15m (e.g. 5m, 1h)" });
  const tools = el("fieldset", { id: "grant-tools", class: "choices" }, el("legend", {}, "Tools it may call"));
  const replace = el("input", { type: "checkbox", id: "connect-replace" });
  const replaceLine = el("label", { class: "choice", for: "connect-replace" }, replace, " Replace the keygate entry already there");
  const newFields = [el("label", { for: "grant-name" }, "Grant name"), name, el("span"), tools, el("label", { for: "grant-ttl" }, "Token lifetime"), ttl];
  const form = el("form", { id: "connect-form", class: "grid" },
    el("label", { for: "connect-grant" }, "Grant"), grant, ...newFields, el("span"), replaceLine,
    el("span"), el("div", {},
      el("button", { type: "submit", id: "connect-submit", class: "primary" }, "Connect"), " ",
      el("button", { type: "button", id: "connect-cancel", onclick: () => close() }, "Cancel")));
  const node = el("div", { id: "agents-connect", class: "once", hidden: true }, title, form, errors.node);
  let client = null;

  const showNew = () => { for (const field of newFields) field.hidden = grant.value !== NEW_GRANT; };
  grant.addEventListener("change", showNew);
  function options(grants) {
    const chosen = grant.value;
    const active = grants.filter((g) => g.status === "active");
    grant.replaceChildren(el("option", { value: NEW_GRANT }, "A new grant…"),
      ...active.map((g) => el("option", { value: g.name }, `${g.name} (${cut(g.tools.join(", "), 60)})`)));
    grant.value = active.some((g) => g.name === chosen) ? chosen : NEW_GRANT;
    showNew();
  }
  function open(c) {
    client = c;
    title.textContent = `Connect ${c.name}`;
    errors.clear();
    form.reset();
    options(latest().grants);
    const existing = latest().grants.find((g) => g.status === "active" && g.name === (c.grant || c.client));
    if (existing) grant.value = existing.name;
    else name.value = latest().grants.some((g) => g.name === c.client) ? "" : c.client;
    showNew();
    replaceLine.hidden = c.keygate !== "other";
    node.hidden = false;
    grant.focus();
  }
  function close() { node.hidden = true; client = null; }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitting(form, errors, async () => {
      let chosen = grant.value;
      if (chosen === NEW_GRANT) {
        const picked = [...tools.querySelectorAll("input:checked")].map((i) => i.value);
        chosen = (await api.createGrant(name.value.trim(), picked, ttl.value, null)).name;
        // Made: a retry after a failed connect uses it rather than creating it again.
        grant.append(el("option", { value: chosen }, chosen));
        grant.value = chosen;
        showNew();
      }
      const message = await api.connectClient(client.client, chosen, replace.checked);
      close();
      done(message);
    });
  });
  return {
    node,
    open,
    update(overview, toolList) {
      renderTools(tools, toolList, "grant-tool");
      if (!node.hidden) options(overview.grants);
    },
  };
}
