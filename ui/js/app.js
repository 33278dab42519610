// Starts the window: the header (server, config, Quit), the checklist and reminders, the tabs,
// and refreshing the open view whenever anything changes in the vault or the server.

import * as api from "./api.js";
import { renderChecklist } from "./checklist.js";
import { renderConfig, renderServer, setUpHeader } from "./header.js";
import { setNavigator } from "./nav.js";
import { remindersOf, showNotices } from "./reminders.js";
import { createActivityView } from "./views/activity.js";
import { createAgentsView } from "./views/agents.js";
import { createApprovalsView } from "./views/approvals.js";
import { createCredentialsView } from "./views/credentials.js";
import { createImportView } from "./views/import.js";
import { createRotationView } from "./views/rotation.js";
import { createServersView } from "./views/servers.js";
import { createTokensView } from "./views/tokens.js";
import { createToolsView } from "./views/tools.js";

const view = (name) => document.getElementById(`view-${name}`);
const views = {
  credentials: createCredentialsView(view("credentials")),
  agents: createAgentsView(view("agents")),
  import: createImportView(view("import")),
  tools: createToolsView(view("tools")),
  tokens: createTokensView(view("tokens")),
  servers: createServersView(view("servers")),
  rotation: createRotationView(view("rotation")),
  activity: createActivityView(view("activity")),
  approvals: createApprovalsView(view("approvals")),
};
const tabs = [...document.querySelectorAll("[role=tab]")];
let current = "credentials";

function select(name, detail, focus = false) {
  if (!views[name]) return;
  current = name;
  for (const tab of tabs) {
    const selected = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
    if (selected && focus) tab.focus();
  }
  views[name].refresh();
  if (detail !== undefined && views[name].show) views[name].show(detail);
}
setNavigator(select);

for (const [index, tab] of tabs.entries()) {
  tab.addEventListener("click", () => select(tab.id.slice(4)));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = tabs[(index + step + tabs.length) % tabs.length];
    select(next.id.slice(4), undefined, true);
  });
}

const showError = (error) => showNotices([{ kind: "error", text: error.message }]);

async function refreshStatus() {
  let status;
  try {
    status = await api.appStatus();
  } catch (error) {
    showError(error);
    return false;
  }
  renderServer(status.server);
  renderConfig(status.config);
  const unavailable = status.vault_error && status.vault_error.code !== "starting";
  document.getElementById("unavailable").hidden = !unavailable;
  document.getElementById("main").hidden = Boolean(status.vault_error);
  if (unavailable) {
    document.getElementById("unavailable-message").textContent = status.vault_error.message;
    document.getElementById("unavailable-home").textContent = status.home;
  }
  renderChecklist(unavailable ? null : status.checklist, status.created_notice, refreshAll);
  showNotices(unavailable ? [] : remindersOf(status), refreshAll);
  return !status.vault_error;
}

async function refreshAll() {
  if (await refreshStatus()) views[current].refresh();
}

// The tab to open on: the tray's request, or Import while agent configs hold plaintext keys
// (until dismissed).
function openStartView() {
  api.startView().then((name) => { if (name && views[name]) select(name); }).catch(() => {});
}

setUpHeader(refreshAll);
document.getElementById("unavailable-retry").addEventListener("click", async () => {
  await api.retryVault().catch(() => {});
  await refreshAll();
  openStartView();
});

// Ctrl+W (Cmd+W) closes the window, as in other desktop apps; the tray keeps Keygate running.
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "w") {
    event.preventDefault();
    api.closeWindow();
  }
});

api.onChanged(refreshAll);
api.onViewRequested((name) => select(name));
// Times ("in 42 min") age even when nothing changes.
setInterval(() => views[current].refresh(), 30_000);
refreshAll();
openStartView();
