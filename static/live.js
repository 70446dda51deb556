// Status page, live section: the last hour per minute from /status.json, as small SVG charts.
// app.js fetches /status.json (every 30 s) and hands it over in a "status" event.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 300, HEIGHT = 80, SLOTS = 60;

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

// The 60 minute slots ending with the current minute; rows (by minute start) fill them.
function slots(live) {
  const last = Math.floor(live.now / 60) * 60;
  const byMinute = new Map(live.minutes.map((row) => [row.t, row]));
  const out = [];
  for (let i = SLOTS - 1; i >= 0; i--) out.push(byMinute.get(last - i * 60) || null);
  return out;
}

// Bars: series is [{cls, values}], drawn in order, each from the baseline (later ones in front),
// or stacked on the ones before when stacked is true; slots bars across (usage.js draws 30 days).
function drawBars(svg, series, { stacked = false, slots = SLOTS } = {}) {
  const totals = series[0].values.map((_, i) =>
    stacked ? series.reduce((sum, s) => sum + (s.values[i] || 0), 0) : Math.max(...series.map((s) => s.values[i] || 0)));
  const peak = Math.max(0, ...totals), scale = Math.max(1, peak);
  const step = WIDTH / slots;
  const base = new Array(slots).fill(0);
  for (const { cls, values } of series) {
    values.forEach((value, i) => {
      if (!value) return;
      const height = (value / scale) * (HEIGHT - 2);
      const y = HEIGHT - height - (stacked ? base[i] : 0);
      svg.append(svgElement("rect", { class: `bar ${cls}`, x: i * step + 0.5, y, width: step - 1, height,
                                       "data-value": value }));
      if (stacked) base[i] += height;
    });
  }
  return peak;
}

// Lines: one polyline per run of known values; a lone point is a short dash.
function drawLines(svg, series) {
  const peak = Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v != null)));
  const scale = Math.max(1, peak), step = WIDTH / SLOTS;
  for (const { cls, values } of series) {
    let run = [];
    const flush = () => {
      if (run.length === 1) run.push([run[0][0] + step * 0.8, run[0][1]]);
      if (run.length) svg.append(svgElement("polyline", { class: `line ${cls}`, points: run.map((p) => p.join(",")).join(" ") }));
      run = [];
    };
    values.forEach((value, i) => {
      if (value == null) { flush(); return; }
      run.push([i * step + step / 2, HEIGHT - 1 - (value / scale) * (HEIGHT - 4)]);
    });
    flush();
  }
  return peak;
}

function sum(values) { return values.reduce((a, b) => a + (b || 0), 0); }

function chart(id, draw, summary) {
  const figure = document.getElementById(id);
  const svg = figure.querySelector("svg");
  svg.replaceChildren(svgElement("line", { class: "baseline", x1: 0, x2: WIDTH, y1: HEIGHT - 0.5, y2: HEIGHT - 0.5 }));
  const peak = draw(svg);
  figure.querySelector(".chart-now").textContent = summary(peak);
}

function formatMs(ms) { return ms == null ? "–" : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`; }

function renderLive(live) {
  const rows = slots(live);
  const current = rows[SLOTS - 1] || {};
  const requests = rows.map((r) => r && r.requests);
  const errors = rows.map((r) => r && r.errors);
  chart("chart-requests", (svg) => drawBars(svg, [{ cls: "s0", values: requests }, { cls: "s1", values: errors }]),
    (peak) => `${current.requests || 0} this minute · ${sum(requests)} in the hour, ${sum(errors)} errors · peak ${peak}/min`);

  const streams = rows.map((r) => r && r.open_streams);
  chart("chart-streams", (svg) => drawBars(svg, [{ cls: "s0", values: streams }]),
    (peak) => `${live.open_streams} open now · peak ${peak}`);

  const p50 = rows.map((r) => r && r.ttft_p50_ms), p99 = rows.map((r) => r && r.ttft_p99_ms);
  chart("chart-ttft", (svg) => drawLines(svg, [{ cls: "s0", values: p50 }, { cls: "s1", values: p99 }]),
    (peak) => {
      const last = [...rows].reverse().find((r) => r && r.ttft_p50_ms != null);
      return last ? `p50 ${formatMs(last.ttft_p50_ms)} · p99 ${formatMs(last.ttft_p99_ms)} (latest) · scale ${formatMs(peak)}`
                  : "no answers in the hour";
    });

  const statuses = [...new Set(rows.flatMap((r) => (r ? Object.keys(r.upstream_errors) : [])))].sort();
  const byStatus = statuses.map((status, i) => ({
    status, cls: `s${i % 4}`, values: rows.map((r) => (r && r.upstream_errors[status]) || 0) }));
  const legend = document.getElementById("upstream-legend");
  legend.replaceChildren(...byStatus.flatMap(({ status, cls, values }) => {
    const key = Object.assign(document.createElement("i"), { className: `key ${cls}` });
    const label = document.createElement("span");
    label.className = "upstream-status";
    label.dataset.status = status;
    label.textContent = `${status} × ${sum(values)} `;
    return [key, label];
  }));
  chart("chart-upstream", (svg) => (byStatus.length ? drawBars(svg, byStatus, { stacked: true }) : 0),
    () => (byStatus.length ? `${sum(byStatus.map((s) => sum(s.values)))} in the hour` : "none in the hour"));
}

function renderJobs(jobs, now) {
  const list = document.getElementById("jobs");
  if (!jobs.length) return;
  list.replaceChildren(...jobs.map((job) => {
    const item = document.createElement("li");
    const name = Object.assign(document.createElement("span"), { className: "job-name", textContent: job.name });
    const when = new Date(job.next_run);
    const minutes = Math.round((when.getTime() / 1000 - now) / 60);
    const time = Object.assign(document.createElement("time"), {
      dateTime: job.next_run,
      textContent: `${minutes <= 0 ? "within a minute" : minutes < 120 ? `in ${minutes} min` : `in ${Math.round(minutes / 60)} h`}`
        + ` · ${when.toISOString().slice(0, 16).replace("T", " ")} UTC` });
    item.append(name, " ", time);
    return item;
  }));
}

document.addEventListener("status", (event) => {
  const info = event.detail;
  if (!info.live) return;
  renderLive(info.live);
  renderJobs(info.jobs || [], info.live.now);
  document.getElementById("live-updated").textContent =
    `updated ${new Date(info.live.now * 1000).toISOString().slice(11, 19)} UTC`;
  document.getElementById("live").dataset.state = "ready";
});
