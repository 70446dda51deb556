// The playground: a key kept in this browser only, streaming chat, image upload and generation.
"use strict";

const API = document.body.dataset.api;   // the API path prefix: "" or "/666"
const KEY_ITEM = "pandora_v1.apiKey";
const MODEL_ITEM = "pandora_v1.model";
const API_ITEM = "pandora_v1.api";
const ENDPOINTS = { chat: "/v1/chat/completions", responses: "/v1/responses" };
const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- markdown
// Everything is HTML-escaped first; the only tags in the output are the ones made here.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
// Links and images may only point at http(s), this server, or an inline picture.
const SAFE_URL = /^(https?:\/\/|\/(?![/\\])|#|data:image\/(png|jpeg|gif|webp);base64,)/i;

function inline(text) {   // one line of escaped text
  const kept = [];        // finished HTML, held out of the later replacements as \0N\0
  const keep = (html) => `\0${kept.push(html) - 1}\0`;
  text = text
    .replace(/`([^`]+)`/g, (_, code) => keep(`<code>${code}</code>`))
    .replace(/!\[([^\]]*)\]\(([^()\s]+)\)/g, (all, alt, url) =>
      SAFE_URL.test(url) ? keep(`<img src="${url}" alt="${alt}" loading="lazy">`) : all)
    .replace(/\[([^[\]]+)\]\(([^()\s]+)\)/g, (all, label, url) =>
      SAFE_URL.test(url) ? keep(`<a href="${url}" target="_blank" rel="noopener noreferrer">${label}</a>`) : all)
    .replace(/(\*\*|__)(?=\S)(.*?\S)\1/g, "<strong>$2</strong>")
    .replace(/(^|[^\w*])\*(?=[^\s*])(.*?[^\s*])?\*(?![\w*])/g, (_, lead, body = "") => `${lead}<em>${body}</em>`)
    .replace(/(^|[^\w_])_(?=[^\s_])(.*?[^\s_])?_(?![\w_])/g, (_, lead, body = "") => `${lead}<em>${body}</em>`);
  while (/\0\d+\0/.test(text)) text = text.replace(/\0(\d+)\0/g, (_, i) => kept[i]);
  return text;
}

function markdown(source) {
  const lines = source.replace(/\0/g, "").replace(/\r\n?/g, "\n").split("\n");
  const html = [];
  let block = null;   // the open paragraph, list or quote: {tag, lines}
  const flush = () => {
    if (!block) return;
    const body = block.tag === "p" || block.tag === "blockquote"
      ? block.lines.map(inline).join("<br>")
      : block.lines.map((line) => `<li>${inline(line)}</li>`).join("");
    html.push(`<${block.tag}>${body}</${block.tag}>`);
    block = null;
  };
  const add = (tag, line) => {
    if (block && block.tag !== tag) flush();
    (block ||= { tag, lines: [] }).lines.push(line);
  };
  for (let i = 0; i < lines.length; i++) {
    const line = escapeHtml(lines[i]);
    let m;
    if ((m = line.match(/^\s*(`{3,}|~{3,})\s*([\w+#.-]*)/))) {   // a fence; unclosed runs to the end
      flush();
      const code = [];
      while (++i < lines.length && !lines[i].trim().startsWith(m[1])) code.push(escapeHtml(lines[i]));
      html.push(`<pre><code${m[2] ? ` data-lang="${m[2]}"` : ""}>${code.join("\n")}</code></pre>`);
    } else if ((m = line.match(/^(#{1,6})\s+(.*)$/))) {
      flush();
      html.push(`<h${m[1].length}>${inline(m[2])}</h${m[1].length}>`);
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      html.push("<hr>");
    } else if ((m = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/))) {
      add(/\d/.test(m[1]) ? "ol" : "ul", m[2]);
    } else if ((m = line.match(/^&gt;\s?(.*)$/))) {
      add("blockquote", m[1]);
    } else if (line.trim()) {
      add("p", line);
    } else {
      flush();
    }
  }
  flush();
  return html.join("");
}

// ---------------------------------------------------------------- API calls

function apiKey() {
  return $("api-key").value.trim().replace(/^Bearer\s+/i, "");
}

// The key leaves the browser only here, as the Authorization header.
async function api(path, body, signal) {
  const headers = {};
  if (apiKey()) headers.Authorization = `Bearer ${apiKey()}`;
  if (body) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method: body ? "POST" : "GET", headers, body: body && JSON.stringify(body), signal,
    cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
  });
  if (!response.ok) throw new Error(await errorMessage(response));
  return response;
}

function describeError(error, status) {
  const where = [status, error.code].filter(Boolean).join(" · ");
  return where ? `${error.message} (${where})` : error.message;
}

async function errorMessage(response) {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text);
    if (error && error.message) return describeError(error, response.status);
  } catch { /* not JSON */ }
  return `HTTP ${response.status}: ${text.slice(0, 300) || response.statusText}`;
}

// The JSON of each SSE "data:" line until [DONE] (chat) or the event ``last`` accepts
// (Responses: no [DONE]); comments (keep-alives) and "event:" lines are skipped.
async function* sseEvents(response, last = null) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The stream ended before the answer was complete.");
    const lines = (buffer + value).split("\n");
    buffer = lines.pop();
    for (const line of lines.map((l) => l.replace(/\r$/, ""))) {
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") return;
      const event = JSON.parse(data);
      yield event;
      if (last && last(event)) return;
    }
  }
}

// ---------------------------------------------------------------- settings

$("settings").addEventListener("submit", (event) => event.preventDefault());
const keyInput = $("api-key");
keyInput.value = localStorage.getItem(KEY_ITEM) || "";
keyInput.addEventListener("input", () => {
  if (keyInput.value.trim()) localStorage.setItem(KEY_ITEM, keyInput.value.trim());
  else localStorage.removeItem(KEY_ITEM);
});
$("toggle-key").addEventListener("click", (event) => {
  const show = keyInput.type === "password";
  keyInput.type = show ? "text" : "password";
  event.target.textContent = show ? "Hide" : "Show";
});

const modelSelect = $("model");
modelSelect.addEventListener("change", () => localStorage.setItem(MODEL_ITEM, modelSelect.value));

async function loadModels() {
  try {
    const { data } = await (await api("/v1/models")).json();
    modelSelect.replaceChildren(...data.map(({ id }) => new Option(id, id)));
    const preferred = [localStorage.getItem(MODEL_ITEM), "gpt-4o"].find((id) => data.some((m) => m.id === id));
    if (preferred) modelSelect.value = preferred;
  } catch (error) {
    modelSelect.replaceChildren(new Option("gpt-4o", "gpt-4o"));
    $("chat-status").textContent = `Could not list the models: ${error.message}`;
  }
}
loadModels();

// Which API the chat speaks: chat completions, or the Responses API.
const apiSelect = $("api");
apiSelect.value = localStorage.getItem(API_ITEM) === "responses" ? "responses" : "chat";
const showEndpoint = () => { $("api-path").textContent = API + ENDPOINTS[apiSelect.value]; };
apiSelect.addEventListener("change", () => {
  localStorage.setItem(API_ITEM, apiSelect.value);
  showEndpoint();
});
showEndpoint();

// The thread as Responses input items (the same turns, Responses content parts).
function responsesInput(thread) {
  return thread.map(({ role, content }) => ({
    role,
    content: typeof content === "string" ? content : content.map((part) => part.type === "text"
      ? { type: "input_text", text: part.text }
      : { type: "input_image", image_url: part.image_url.url }),
  }));
}

const RESPONSE_END = /^response\.(completed|failed|incomplete)$/;

// One streamed answer over either API; ``answer`` grows as the events come.
async function streamAnswer(model, thread, answer, view, signal) {
  if (apiSelect.value !== "responses") {
    const response = await api(ENDPOINTS.chat,
      { model, messages: thread, stream: true, stream_options: { include_usage: true } }, signal);
    let usage = null;
    for await (const event of sseEvents(response)) {
      if (event.error) throw new Error(describeError(event.error));
      const delta = (event.choices && event.choices[0] && event.choices[0].delta) || {};
      answer.content += delta.content || "";
      answer.reasoning += delta.reasoning_content || "";
      usage = event.usage || usage;
      view.show(answer);
    }
    return usage;
  }
  const response = await api(ENDPOINTS.responses, { model, input: responsesInput(thread), stream: true,
    store: false, reasoning: { summary: "auto" } }, signal);
  for await (const event of sseEvents(response, (e) => RESPONSE_END.test(e.type))) {
    if (event.type === "response.output_text.delta") answer.content += event.delta;
    else if (event.type === "response.reasoning_summary_text.delta") answer.reasoning += event.delta;
    else if (event.type === "response.failed") throw new Error(describeError(event.response.error));
    else if (RESPONSE_END.test(event.type)) return event.response.usage;
    view.show(answer);
  }
  return null;
}

// ---------------------------------------------------------------- chat

const messages = $("messages");
const promptBox = $("prompt");
let turns = [];         // the OpenAI messages of this conversation
let attached = [];      // data URLs of images waiting for the next message
let running = null;     // the AbortController of the answer being streamed

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const nearBottom = () => messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
const scrollDown = () => { messages.scrollTop = messages.scrollHeight; };

function addUserMessage(text, images) {
  $("empty").hidden = true;
  const article = element("article", "message user");
  article.append(element("div", "role", "You"));
  if (text) article.append(element("div", "text", text));
  if (images.length) {
    const row = element("div", "thumbs");
    for (const url of images) row.append(Object.assign(element("img"), { src: url, alt: "attached image" }));
    article.append(row);
  }
  messages.append(article);
  scrollDown();
}

// An assistant message whose text and reasoning are re-rendered as they grow.
function addAnswer(model) {
  const article = element("article", "message assistant pending");
  article.dataset.state = "streaming";
  const reasoning = element("details", "reasoning");
  reasoning.open = true;
  reasoning.hidden = true;
  reasoning.append(element("summary", "", "Reasoning"), element("div", "md"));
  const content = element("div", "md content");
  const meta = element("div", "meta", model);
  article.append(element("div", "role", "Assistant"), reasoning, content, meta);
  messages.append(article);
  scrollDown();
  let frame = 0;
  let shown = { content: "", reasoning: "" };
  const render = () => {
    frame = 0;
    const follow = nearBottom();   // keep following the answer unless the reader scrolled up
    reasoning.hidden = !shown.reasoning;
    reasoning.lastChild.innerHTML = markdown(shown.reasoning);
    content.innerHTML = markdown(shown.content);
    if (shown.content || shown.reasoning) article.classList.remove("pending");
    if (follow) scrollDown();
  };
  return {
    show(answer) {   // at most one render per animation frame
      shown = { ...answer };
      frame ||= requestAnimationFrame(render);
    },
    fail(message) {
      meta.before(element("div", "error", message));
    },
    done(note) {     // the last render now, then the note under the answer
      if (frame) cancelAnimationFrame(frame);
      render();
      article.classList.remove("pending");
      article.dataset.state = "done";
      meta.textContent = [model, note].filter(Boolean).join(" · ");
      if (nearBottom()) scrollDown();
    },
  };
}

function setRunning(controller) {
  running = controller;
  $("send").textContent = controller ? "Stop" : "Send";
  $("send").classList.toggle("stop", Boolean(controller));
}

async function sendMessage() {
  if (running) return running.abort();
  const text = promptBox.value.trim();
  if (!text && !attached.length) return;
  const images = attached;
  const content = images.length
    ? [...(text ? [{ type: "text", text }] : []), ...images.map((url) => ({ type: "image_url", image_url: { url } }))]
    : text;
  const thread = turns;   // "New chat" starts another array; this answer stays with its own
  thread.push({ role: "user", content });
  addUserMessage(text, images);
  promptBox.value = "";
  autoGrow();
  setAttached([]);
  const model = modelSelect.value || "gpt-4o";
  const view = addAnswer(model);
  const answer = { content: "", reasoning: "" };
  const started = performance.now();
  const controller = new AbortController();
  setRunning(controller);
  try {
    const usage = await streamAnswer(model, thread, answer, view, controller.signal);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    view.done([usage && `${usage.total_tokens} tokens`, `${seconds} s`].filter(Boolean).join(" · "));
  } catch (error) {
    view.show(answer);
    if (error.name !== "AbortError") view.fail(error.message);
    view.done(error.name === "AbortError" ? "stopped" : "");
  } finally {
    if (running === controller) setRunning(null);
  }
  if (answer.content) thread.push({ role: "assistant", content: answer.content });
  else thread.pop();   // nothing came back: leave the question out of the next request
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  sendMessage();
});
promptBox.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    if (!running) sendMessage();   // while streaming only the Stop button stops
  }
});
function autoGrow() {
  promptBox.style.height = "auto";
  promptBox.style.height = `${promptBox.scrollHeight}px`;
}
promptBox.addEventListener("input", autoGrow);

$("clear-chat").addEventListener("click", () => {
  if (running) running.abort();
  setRunning(null);
  turns = [];
  messages.replaceChildren($("empty"));
  $("empty").hidden = false;
});

// Images to send: from the file input or pasted, read as data URLs.
function setAttached(list) {
  attached = list;
  const box = $("attachments");
  box.hidden = !list.length;
  box.replaceChildren(...list.map((url, index) => {
    const item = element("span", "attachment");
    const remove = element("button", "remove", "×");
    remove.type = "button";
    remove.title = "Remove";
    remove.addEventListener("click", () => setAttached(attached.filter((_, i) => i !== index)));
    item.append(Object.assign(element("img"), { src: url, alt: "image to send" }), remove);
    return item;
  }));
}

function attachFiles(files) {
  for (const file of files) {
    if (!file.type.startsWith("image/")) continue;
    if (file.size > MAX_IMAGE_BYTES) {
      $("chat-status").textContent = `${file.name} is larger than 20 MB.`;
      continue;
    }
    const reader = new FileReader();
    reader.onload = () => setAttached([...attached, reader.result]);
    reader.readAsDataURL(file);
  }
}
$("image-file").addEventListener("change", (event) => {
  attachFiles(event.target.files);
  event.target.value = "";
});
promptBox.addEventListener("paste", (event) => attachFiles(event.clipboardData.files));

// ---------------------------------------------------------------- image generation

$("image-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("image-prompt").value.trim();
  if (!text) return;
  const button = $("generate");
  const error = $("image-error");
  button.disabled = true;
  button.textContent = "Generating…";
  error.hidden = true;
  try {
    const body = { model: modelSelect.value || "gpt-4o", prompt: text, n: Number($("image-n").value) };
    if ($("image-size").value) body.size = $("image-size").value;
    const { data } = await (await api("/v1/images/generations", body)).json();
    for (const item of data.reverse()) {
      const figure = element("figure");
      const link = Object.assign(element("a"), { href: item.url, target: "_blank", rel: "noopener noreferrer" });
      link.append(Object.assign(element("img"), { src: item.url, alt: item.revised_prompt || text }));
      figure.append(link, element("figcaption", "", item.revised_prompt || text));
      $("gallery").prepend(figure);
    }
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = "Generate";
  }
});
