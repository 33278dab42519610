// The header: the MCP server's state, config.toml (its path, Open in editor, Reload, and why
// it does not load, right under the server's state) and Quit, which asks first.

import * as api from "./api.js";
import { errorBox } from "./dom.js";

const byId = (id) => document.getElementById(id);

export function renderServer(server) {
  const pill = byId("server-status");
  const running = server.state === "running";
  pill.textContent = running ? `MCP server running on ${server.address}` : "MCP server stopped";
  pill.title = running ? server.url : server.reason;
  pill.dataset.state = server.state;
  if (running) pill.dataset.url = server.url;
  byId("server-start").hidden = running;
}

export function renderConfig(config) {
  byId("config-path").textContent = config.path;
  const error = byId("config-error");
  error.hidden = !config.error;
  error.textContent = config.error ? `config.toml does not load, so Keygate keeps serving the last good one: ${config.error}` : "";
}

// Wire the header's buttons; `refresh` reloads the window's state after each. Their errors show
// in the header, under the buttons, until the next one succeeds.
export function setUpHeader(refresh) {
  const status = byId("config-status");
  const errors = errorBox();
  errors.node.id = "header-error";
  byId("config-line").append(errors.node);
  const showError = (error) => errors.show(error);
  const run = (button, action) => async () => {
    button.disabled = true;
    status.textContent = "";
    errors.clear();
    try {
      status.textContent = await action();
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
    refresh();
  };
  byId("server-start").addEventListener("click", run(byId("server-start"), async () => {
    const server = await api.startServer();
    renderServer(server);
    return server.state === "running" ? "Server started." : "";
  }));
  byId("config-open").addEventListener("click", run(byId("config-open"), async () => {
    await api.openConfig();
    return "Opened in your editor: save it, then choose Reload.";
  }));
  byId("config-reload").addEventListener("click", run(byId("config-reload"), async () => {
    const config = await api.reloadConfig();
    renderConfig(config);
    return "Reloaded: the server serves this config now.";
  }));
  const dialog = byId("quit-dialog");
  byId("quit").addEventListener("click", () => dialog.showModal());
  byId("quit-cancel").addEventListener("click", () => dialog.close());
  byId("quit-confirm").addEventListener("click", async () => {
    try {
      await api.quitKeygate();
    } catch (error) {
      dialog.close();
      showError(error);
    }
  });
}
