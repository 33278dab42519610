// Starts the window: the header (server, notices), the tabs, and refreshing the open view
// whenever anything changes in the vault or the server.

import * as api from "./api.js";
import { el } from "./dom.js";
import { createActivityView } from "./views/activity.js";
import { createAgentsView } from "./views/agents.js";
import { createImportView } from "./views/import.js";
import { createCredentialsView } from "./views/credentials.js";
import { createRotationView } from "./views/rotation.js";
import { createServersView } from "./views/servers.js";
import { createTokensView } from "./views/tokens.js";

const views = {
  credentials: createCredentialsView(document.getElementById("view-credentials")),
  agents: createAgentsView(document.getElementById("view-agents")),
  import: createImportView(document.getElementById("view-import")),
  tokens: createTokensView(document.getElementById("view-tokens")),
  servers: createServersView(document.getElementById("view-servers")),
  rotation: createRotationView(document.getElementById("view-rotation")),
  activity: createActivityView(document.getElementById("view-activity")),
};
const tabs = [...document.querySelectorAll("[role=tab]")];
let current = "credentials";

function select(name, focus = false) {
  current = name;
  for (const tab of tabs) {
    const selected = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
    if (selected && focus) tab.focus();
  }
  views[name].refresh();
}

for (const [index, tab] of tabs.entries()) {
  tab.addEventListener("click", () => select(tab.id.slice(4)));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = tabs[(index + step + tabs.length) % tabs.length];
    select(next.id.slice(4), true);
  });
}

async function refreshStatus() {
  let status;
  try {
    status = await api.appStatus();
  } catch (error) {
    showNotices([{ kind: "error", text: error.message }]);
    return false;
  }
  renderServer(status.server);
  const unavailable = status.vault_error && status.vault_error.code !== "starting";
  document.getElementById("unavailable").hidden = !unavailable;
  document.getElementById("main").hidden = Boolean(status.vault_error);
  if (unavailable) {
    document.getElementById("unavailable-message").textContent = status.vault_error.message;
    document.getElementById("unavailable-home").textContent = status.home;
  }
  const notices = [];
  if (status.created_notice) notices.push({ kind: "info", text: status.created_notice });
  if (status.server.state === "stopped" && !unavailable) notices.push({ kind: "warn", text: `MCP server stopped: ${status.server.reason}` });
  for (const r of status.reminders) notices.push({ kind: r.overdue ? "warn" : "info", text: r.message, reminder: r.credential });
  if (status.notifications_unavailable && status.reminders.length) {
    notices.push({ kind: "info", text: "Desktop notifications are not available here, so rotation reminders show only in this window and the tray." });
  }
  showNotices(notices);
  return !status.vault_error;
}

function renderServer(server) {
  const pill = document.getElementById("server-status");
  const running = server.state === "running";
  pill.textContent = running ? `MCP server running on ${server.address}` : "MCP server stopped";
  pill.title = running ? server.url : server.reason;
  pill.dataset.state = server.state;
  if (running) pill.dataset.url = server.url;
  document.getElementById("server-start").hidden = running;
}

function showNotices(notices) {
  document.getElementById("notices").replaceChildren(...notices.map((n) =>
    el("p", { class: `notice ${n.kind}`, dataset: n.reminder ? { reminder: n.reminder } : {} }, n.text)));
}

async function refreshAll() {
  if (await refreshStatus()) views[current].refresh();
}

document.getElementById("server-start").addEventListener("click", async () => {
  try {
    renderServer(await api.startServer());
  } catch (error) {
    showNotices([{ kind: "error", text: error.message }]);
  }
  refreshAll();
// First start: Import while agent configs hold plaintext keys (until dismissed), or the tab the
// tray asked for.
api.startView().then((name) => { if (name && views[name]) select(name); }).catch(() => {});
});
document.getElementById("unavailable-retry").addEventListener("click", async () => {
  await api.retryVault().catch(() => {});
  refreshAll();
// First start: Import while agent configs hold plaintext keys (until dismissed), or the tab the
// tray asked for.
api.startView().then((name) => { if (name && views[name]) select(name); }).catch(() => {});
});

// Ctrl+W (Cmd+W) closes the window, as in other desktop apps; the tray keeps Keygate running.
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "w") {
    event.preventDefault();
    api.closeWindow();
  }
});

api.onChanged(refreshAll);
api.onViewRequested((name) => { if (views[name]) select(name); });
// Times ("in 42 min") age even when nothing changes.
setInterval(() => views[current].refresh(), 30_000);
refreshAll();
// First start: Import while agent configs hold plaintext keys (until dismissed), or the tab the
// tray asked for.
api.startView().then((name) => { if (name && views[name]) select(name); }).catch(() => {});
