// Shared by every page: tabs, copy buttons, and the status page's health badge.
"use strict";

// Tabs: a [role=tablist] of buttons, each naming its panel in aria-controls.
for (const list of document.querySelectorAll("[role=tablist]")) {
  const tabs = [...list.querySelectorAll("[role=tab]")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      for (const other of tabs) {
        other.setAttribute("aria-selected", String(other === tab));
        document.getElementById(other.getAttribute("aria-controls")).hidden = other !== tab;
      }
    });
  }
}

// Copy to the clipboard; plain-HTTP pages have no navigator.clipboard, so fall back.
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = Object.assign(document.createElement("textarea"), { value: text });
  area.style.cssText = "position:fixed;opacity:0";
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

function addCopyButton(box, getText) {
  const button = Object.assign(document.createElement("button"),
    { type: "button", className: "copy", textContent: "Copy" });
  button.addEventListener("click", async () => {
    try { await copyText(getText()); button.textContent = "Copied"; }
    catch { button.textContent = "Copy failed"; }
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
  box.append(button);
}

for (const snippet of document.querySelectorAll(".snippet")) {
  addCopyButton(snippet.querySelector(".snippet-head"), () => snippet.querySelector("pre code").textContent);
}
for (const item of document.querySelectorAll(".endpoints li")) {
  addCopyButton(item, () => item.querySelector("code").textContent);
}

// Status page: the upstream check (and the live section) from /status.json, again every 30 s.
const health = document.getElementById("health");
async function checkHealth() {
  let text, state;
  try {
    const response = await fetch("/status.json", { cache: "no-store" });
    const info = await response.json();
    const up = info.upstream;
    // live.js draws the activity charts from the same answer.
    document.dispatchEvent(new CustomEvent("status", { detail: info }));
    state = up.reachable ? "ok" : "down";
    text = up.reachable ? `reachable · ${Math.round(up.latency_ms)} ms · HTTP ${up.status}`
                        : `unreachable · ${up.error}`;
  } catch (error) {
    state = "down";
    text = `status check failed: ${error.message}`;
  }
  health.dataset.state = state;
  health.textContent = text;
}
if (health) {
  // The first check waits until every script of the page has run: live.js listens for its answer,
  // and a live.js that arrives after that answer would otherwise miss it (the next is 30 s away).
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", checkHealth);
  else checkHealth();
  setInterval(checkHealth, 30000);
  document.getElementById("recheck").addEventListener("click", () => {
    health.dataset.state = "pending";
    health.textContent = "checking…";
    checkHealth();
  });
}
