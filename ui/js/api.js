// The one module that talks to Tauri. Views call these functions and never `invoke` directly.
// Every failure becomes an Error with `code` and `message` from the app (never a stack trace).

const tauri = window.__TAURI__;

// A view re-rendered between a button's press and its release loses the click: the press lands
// on the old button, the release on its replacement. An agent's calls refresh the open view
// several times a second, so answers reach the views only once no button is held (or after
// PRESS_WAIT_MS, should the release happen outside the window).
const PRESS_WAIT_MS = 1000;
let press = null;
function held() {
  if (press) return;
  let release;
  const current = { done: new Promise((resolve) => { release = resolve; }), release };
  press = current;
  setTimeout(() => { if (press === current) released(); }, PRESS_WAIT_MS);
}
function released() {
  const current = press;
  press = null;
  if (current) current.release();
}
for (const type of ["pointerdown", "mousedown"]) document.addEventListener(type, held, true);
// After the click this release makes, which is dispatched in the same task.
for (const type of ["pointerup", "mouseup", "pointercancel"]) document.addEventListener(type, () => setTimeout(released, 0), true);
window.addEventListener("blur", released);
const unheld = () => (press ? press.done : undefined);

async function call(command, args = {}) {
  try {
    return await tauri.core.invoke(command, args);
  } catch (raw) {
    const known = raw && typeof raw === "object" && typeof raw.message === "string";
    const error = new Error(known ? raw.message : "Keygate could not do that. Try again, or restart the app.");
    error.code = known ? raw.code : "unexpected";
    throw error;
  } finally {
    await unheld();
  }
}

export const appStatus = () => call("app_status");
export const retryVault = () => call("retry_vault");
export const startServer = () => call("start_server");
export const dismissChecklist = () => call("dismiss_checklist");
export const openConfig = () => call("open_config");
export const reloadConfig = () => call("reload_config");
// Stops the agent (and its server); the window closes when it sees the agent gone.
export const quitKeygate = () => call("quit_keygate");

export const listCredentials = () => call("list_credentials");
export const addCredential = (name, value, maxAgeDays) => call("add_credential", { name, value, maxAgeDays });
export const rotateCredential = (name, value) => call("rotate_credential", { name, value });
export const removeCredential = (name) => call("remove_credential", { name });
// Runs the credential's rotator (config.toml [rotator.NAME]): {name, version, resumed, notes}.
export const rotateNow = (name) => call("rotate_now", { name });
export const rollbackCredential = (name) => call("rollback_credential", { name });

export const listTools = () => call("list_tools");
// Every tool with its credentials and whether it is ready: {tool, kind, server, credential, ready, missing, held_back}.
export const toolReadiness = () => call("tool_readiness");
export const listTokens = () => call("list_tokens");
export const createToken = (label, tools, ttl) => call("create_token", { label, tools, ttl });
export const revokeToken = (id) => call("revoke_token", { id });

// Calls waiting for a person: [{id, tool, grant, arguments, waiting_since}].
export const listApprovals = () => call("list_approvals");
export const answerApproval = (id, allow, forTenMinutes) => call("answer_approval", { id, allow, forTenMinutes });

export const listAgents = () => call("list_agents");
// `tokenTtl` and `expires` empty or null: 15 min tokens, a grant that lasts until revoked.
export const createGrant = (name, tools, tokenTtl, expires) => call("create_grant", { name, tools, tokenTtl, expires });
export const revokeGrant = (name) => call("revoke_grant", { name });
export const connectClient = (client, grant, replace) => call("connect_client", { client, grant, replace });
export const disconnectClient = (client) => call("disconnect_client", { client });
// Opens a waiting sign-in's consent page in the default browser (never in this window).
export const openConsent = (id) => call("open_consent", { id });

export const importOverview = () => call("import_overview");
export const importKeys = () => call("import_keys");
export const dismissImport = () => call("dismiss_import");
// The tab to open on (the tray's request, or Import while keys wait), or null.
export const startView = () => call("start_view");

export const rotationLog = () => call("rotation_log");
export const activity = () => call("activity");
export const integrity = () => call("integrity");

export const listServers = () => call("list_servers");
// `tool` null approves every held-back tool of the server.
export const approveServerTools = (name, tool) => call("approve_server_tools", { name, tool });
export const restartServer = (name) => call("restart_server", { name });

// Close the window; Keygate keeps running in the tray.
export const closeWindow = () => tauri.window.getCurrentWindow().close();

// Calls `handler` with a tab's name when the tray asks the window to show it.
export function onViewRequested(handler) {
  return tauri.event.listen("keygate://view", (event) => handler(event.payload));
}

// Calls `handler` whenever the vault or server changes, from any front.
export function onChanged(handler) {
  return tauri.event.listen("keygate://changed", () => handler());
}
