// Status page, usage section (admin only): per-key usage from /admin/usage.json, fetched with the admin
// key the operator enters here. The key stays in this tab's sessionStorage and is sent only as the
// Authorization header (never in a URL or a cookie); the page shows key names and masked ids, never a
// key, never content. The charts use live.js's drawing (svgElement, drawBars), loaded before this file.
"use strict";

const ADMIN_KEY = "pandora_v1.adminKey";
const USAGE_DAYS = 30;

const usageSection = document.getElementById("usage");

function utcDay(daysFromToday) {
  return new Date(Date.now() + daysFromToday * 86400000).toISOString().slice(0, 10);
}

function element(name, text, className) {
  const node = document.createElement(name);
  if (text != null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function usageState(state, message) {
  usageSection.dataset.state = state;
  const unlock = document.getElementById("usage-unlock");
  if (unlock) unlock.hidden = state === "ready";
  document.getElementById("usage-view").hidden = state !== "ready";
  const note = document.getElementById("usage-message");
  if (message != null && note) note.textContent = message;
}

async function loadUsage() {
  const key = sessionStorage.getItem(ADMIN_KEY);
  if (!key) return usageState("locked");
  const query = new URLSearchParams({ start_date: utcDay(1 - USAGE_DAYS), end_date: utcDay(0) });
  let response;
  try {
    response = await fetch(`/admin/usage.json?${query}`, { headers: { Authorization: `Bearer ${key}` }, cache: "no-store" });
  } catch (error) {
    return usageState("error", `The usage could not be loaded: ${error.message}`);
  }
  if (response.status === 401) {
    sessionStorage.removeItem(ADMIN_KEY);
    return usageState("locked", "That is not the admin key.");
  }
  if (!response.ok) return usageState("error", `The usage could not be loaded (HTTP ${response.status}).`);
  renderUsage(await response.json(), query.get("end_date"));
  usageState("ready");
  document.getElementById("usage-updated").textContent =
    `updated ${new Date().toISOString().slice(11, 19)} UTC`;
}

function tokens(row) { return row.input_tokens + row.output_tokens; }

// A chart per key: tokens per day over the last 30 days, stacked by model.
function renderCharts(rows, lastDay) {
  const days = [];
  for (let i = USAGE_DAYS - 1; i >= 0; i--) {
    days.push(new Date(Date.parse(`${lastDay}T00:00:00Z`) - i * 86400000).toISOString().slice(0, 10));
  }
  const keys = [...new Set(rows.map((row) => row.key))];
  const box = document.getElementById("usage-charts");
  if (!keys.length) {
    box.replaceChildren(element("p", "No requests in the last 30 days.", "muted small"));
    return;
  }
  box.replaceChildren(...keys.map((key) => {
    const own = rows.filter((row) => row.key === key);
    const models = [...new Set(own.map((row) => row.model))];
    const series = models.map((model, i) => ({
      model, cls: `s${i % 4}`,
      values: days.map((day) => own.filter((r) => r.date === day && r.model === model).reduce((n, r) => n + tokens(r), 0)) }));
    const figure = element("figure", null, "chart");
    figure.dataset.key = key;
    const caption = element("figcaption", key);
    const legend = element("span", null, "legend");
    for (const { model, cls } of series) legend.append(element("i", null, `key ${cls}`), element("span", `${model} `));
    caption.append(legend);
    const svg = svgElement("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", role: "img",
                                    "aria-label": `tokens per day of ${key}, by model` });
    svg.append(svgElement("line", { class: "baseline", x1: 0, x2: WIDTH, y1: HEIGHT - 0.5, y2: HEIGHT - 0.5 }));
    const peak = drawBars(svg, series, { stacked: true, slots: USAGE_DAYS });
    const requests = own.reduce((n, r) => n + r.requests, 0);
    const total = own.reduce((n, r) => n + tokens(r), 0);
    figure.append(caption, svg, element("p", `${total} tokens · ${requests} requests in 30 days · peak ${peak}/day`,
                                        "chart-now"));
    return figure;
  }));
}

function caps(limits) {
  const parts = [];
  if (limits.rpm != null) parts.push(`${limits.rpm}/min`);
  if (limits.concurrent != null) parts.push(`${limits.concurrent} at once`);
  if (limits.tokens_per_day != null) {
    parts.push(`${limits.tokens_today} of ${limits.tokens_per_day} tokens (${Math.max(0, limits.tokens_per_day - limits.tokens_today)} left)`);
  }
  if (limits.images_per_day != null) {
    parts.push(`${limits.images_today} of ${limits.images_per_day} images (${Math.max(0, limits.images_per_day - limits.images_today)} left)`);
  }
  if (limits.models != null) parts.push(`models ${limits.models.join(", ")}`);
  if (limits.expires != null) parts.push(`until ${limits.expires}`);
  return parts.length ? parts.join(" · ") : "none";
}

function tableRows(id, rows) {
  document.querySelector(`#${id} tbody`).replaceChildren(...rows.map((cells) => {
    const row = document.createElement("tr");
    row.append(...cells.map((cell) => element("td", cell)));
    return row;
  }));
}

function renderUsage(report, lastDay) {
  renderCharts(report.data, lastDay);
  tableRows("usage-today", report.keys.map(({ key, today, limits }) => [
    key, today.requests, `${today.input_tokens} / ${today.output_tokens}`, today.images, today.searches,
    today.errors, today.rejected, caps(limits)]));
  tableRows("usage-recent", report.recent.map((r) => [
    r.time.replace("T", " ").replace("Z", ""), r.key, r.route, r.model, r.status,
    `${r.input_tokens} / ${r.output_tokens}`, `${Math.round(r.duration_ms)} ms`]));
  const limits = document.getElementById("upstream-limits");
  limits.replaceChildren(...(report.upstream_limits.length ? report.upstream_limits.map((limit) => {
    const item = element("li", null, "upstream-limit");
    item.dataset.account = limit.account;
    const resets = limit.reset_at ? `resets ${limit.reset_at.replace("T", " ").replace("Z", "")} UTC` : "reset not known";
    item.append(element("span", `${limit.account} · ${limit.feature}`, "job-name"), " ",
                element("time", resets), " ", element("span", limit.message, "muted small"));
    return item;
  }) : [element("li", "none reported", "muted")]));
}

function openUsage() {
  const input = document.getElementById("admin-key");
  const key = input.value.trim();
  input.value = "";            // the key is kept in sessionStorage, never left on the page
  if (!key) return;
  sessionStorage.setItem(ADMIN_KEY, key);
  loadUsage();
}

if (usageSection && document.getElementById("usage-unlock")) {
  document.getElementById("usage-open").addEventListener("click", openUsage);
  document.getElementById("admin-key").addEventListener("keydown", (event) => {
    if (event.key === "Enter") openUsage();
  });
  document.getElementById("usage-close").addEventListener("click", () => {
    sessionStorage.removeItem(ADMIN_KEY);
    usageState("locked", "The admin key is forgotten in this tab.");
  });
  document.addEventListener("status", () => { if (sessionStorage.getItem(ADMIN_KEY)) loadUsage(); });
  loadUsage();
}
