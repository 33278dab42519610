// The rotation log, newest first.

import * as api from "../api.js";
import { el, tableView, when } from "../dom.js";

const version = (v) => (v === null || v === undefined ? "—" : `v${v}`);

export function createRotationView(root) {
  return tableView(root, {
    id: "rotation-table",
    title: "Rotation log",
    intro: "Every credential change, by the app, the CLI or anyone else.",
    headers: ["When", "Credential", "Action", "From", "To", "By"],
    empty: "Nothing yet: adding a credential starts the log.",
    load: api.rotationLog,
    row: (e) => el("tr", {}, el("td", {}, when(e.at)), el("td", {}, el("code", {}, e.credential)),
      el("td", {}, e.action), el("td", {}, version(e.from_version)), el("td", {}, version(e.to_version)),
      el("td", {}, e.actor)),
  });
}
