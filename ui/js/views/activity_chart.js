// A small SVG chart of calls per minute over the last hour, one line per agent. Drawn here,
// with no library: 60 buckets, a line each, a legend; every label goes in as text.

import { el } from "../dom.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 1000;
const HEIGHT = 130;
const PAD = { left: 30, right: 8, top: 10, bottom: 20 };
const MINUTES = 60;
const MAX_LINES = 6;

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// Calls per agent per minute for the hour ending `now`: {agent: [60 counts]}, busiest first,
// the quieter ones beyond MAX_LINES added up as "others".
export function perMinute(rows, now = Date.now()) {
  const start = now - MINUTES * 60_000;
  const series = new Map();
  for (const row of rows) {
    const at = new Date(row.at).getTime();
    if (!(at > start && at <= now)) continue;
    const bucket = Math.min(MINUTES - 1, Math.floor((at - start) / 60_000));
    if (!series.has(row.agent)) series.set(row.agent, new Array(MINUTES).fill(0));
    series.get(row.agent)[bucket] += row.count || 1;
  }
  const total = (counts) => counts.reduce((a, b) => a + b, 0);
  const sorted = [...series.entries()].sort((a, b) => total(b[1]) - total(a[1]));
  if (sorted.length <= MAX_LINES) return sorted;
  const others = new Array(MINUTES).fill(0);
  for (const [, counts] of sorted.slice(MAX_LINES - 1)) counts.forEach((n, i) => { others[i] += n; });
  return [...sorted.slice(0, MAX_LINES - 1), ["others", others]];
}

export function callsChart(rows, now = Date.now()) {
  const series = perMinute(rows, now);
  const peak = Math.max(1, ...series.flatMap(([, counts]) => counts));
  const x = (i) => PAD.left + (i * (WIDTH - PAD.left - PAD.right)) / (MINUTES - 1);
  const y = (n) => HEIGHT - PAD.bottom - (n * (HEIGHT - PAD.top - PAD.bottom)) / peak;
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img", id: "activity-chart-svg" },
    svg("title", {}, `Calls per minute over the last hour, per agent (peak ${peak})`),
    svg("line", { x1: PAD.left, y1: y(0), x2: WIDTH - PAD.right, y2: y(0), class: "axis" }),
    svg("text", { x: PAD.left - 4, y: y(peak) + 4, class: "label", "text-anchor": "end" }, peak),
    svg("text", { x: PAD.left - 4, y: y(0), class: "label", "text-anchor": "end" }, 0),
    svg("text", { x: PAD.left, y: HEIGHT - 4, class: "label" }, "60 min ago"),
    svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 4, class: "label", "text-anchor": "end" }, "now"),
    ...series.map(([agent, counts], index) => svg("polyline", {
      class: `series s${index}`, fill: "none", "data-agent": agent,
      points: counts.map((n, i) => `${x(i).toFixed(1)},${y(n).toFixed(1)}`).join(" "),
    }, svg("title", {}, `${agent}: ${counts.reduce((a, b) => a + b, 0)} calls`))));
  const legend = el("ul", { class: "legend" }, series.map(([agent, counts], index) =>
    el("li", { dataset: { agent } }, el("span", { class: `swatch s${index}` }), `${agent} (${counts.reduce((a, b) => a + b, 0)})`)));
  return el("figure", { id: "activity-chart", class: "chart-box" }, chart,
    series.length ? legend : el("figcaption", { class: "muted" }, "No calls in the last hour."));
}
