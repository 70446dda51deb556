// @anthropic-ai/sdk and the AI SDK's @ai-sdk/anthropic provider against pandora_v1's /v1/messages: create,
// the stream helper and its final message, a two-turn tool loop, thinking, countTokens, the errors the SDK
// turns into its own classes; generateText / streamText tool loops and reasoning through the provider.
// Prints one JSON list of scenarios. Run by tests/test_messages_clients_e2e.py with BASE_URL (the server,
// no /v1) and API_KEY set.
import Anthropic from "@anthropic-ai/sdk";
import { createAnthropic } from "@ai-sdk/anthropic";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const baseURL = process.env.BASE_URL;
const apiKey = process.env.API_KEY;
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0 });
const model = "claude-sonnet-4-6";
const user = (content) => [{ role: "user", content }];
const weatherTool = { name: "get_weather", description: "Weather in a city",
                      input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };
const callPrompt = 'Let me check.\n!call get_weather {"city": "Paris"}';
// The fake's search turn: a web.run call, its results, and an answer whose mark cites the first result.
const searched = "!pieces 3\nBased on the results:\nLisbon opened a solar library today \ue200cite\ue202turn0search0\ue201."
  + " It runs on sun.";
const webSearch = { type: "web_search_20250305", name: "web_search", max_uses: 3 };
const out = [];

async function scenario(name, run) {
  try {
    out.push({ name, ...(await run()) });
  } catch (error) {
    out.push({ name, error: { kind: error.constructor.name, status: error.status ?? null,
                              type: error.error?.error?.type ?? null, message: String(error.message) } });
  }
}

await scenario("sdk-create", async () => {
  const m = await client.messages.create({ model, max_tokens: 1024, messages: user("Hello there, friend.") });
  return { id: m.id, type: m.type, text: m.content[0].text, stop: m.stop_reason, usage: m.usage };
});

await scenario("sdk-stream", async () => {
  const stream = client.messages.stream({ model, max_tokens: 1024, messages: user("Hello there, friend.") });
  let deltas = "";
  stream.on("text", (text) => { deltas += text; });
  const final = await stream.finalMessage();
  return { deltas, text: final.content[0].text, stop: final.stop_reason, usage: final.usage };
});

await scenario("sdk-tool-loop", async () => {
  const messages = user(callPrompt);
  const stream = client.messages.stream({ model, max_tokens: 1024, messages, tools: [weatherTool] });
  let json = "";
  stream.on("inputJson", (delta) => { json += delta; });
  const first = await stream.finalMessage();
  const call = first.content.find((b) => b.type === "tool_use");
  const final = await client.messages.create({ model, max_tokens: 1024, tools: [weatherTool], messages: [
    ...messages, { role: "assistant", content: first.content },
    { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: `sunny in ${call.input.city}` }] }] });
  return { firstStop: first.stop_reason, blocks: first.content.map((b) => b.type), json, call,
           text: final.content[0].text, stop: final.stop_reason };
});

await scenario("sdk-thinking", async () => {
  const stream = client.messages.stream({ model, max_tokens: 4096, thinking: { type: "enabled", budget_tokens: 2048 },
                                          messages: user("!reasoning\nDone thinking.") });
  let thinking = "";
  stream.on("thinking", (delta) => { thinking += delta; });
  const final = await stream.finalMessage();
  return { thinking, blocks: final.content };
});

await scenario("sdk-count-tokens", async () => {
  const request = { model, messages: user(callPrompt), tools: [weatherTool] };
  const counted = await client.messages.countTokens(request);
  const created = await client.messages.create({ ...request, max_tokens: 1024 });
  return { counted: counted.input_tokens, usage: created.usage.input_tokens };
});

await scenario("sdk-bad-key", async () => {
  await new Anthropic({ baseURL, apiKey: "not-a-token", maxRetries: 0 }).messages.create(
    { model, max_tokens: 1024, messages: user("hi") });
  return {};
});

await scenario("sdk-rate-limited", async () => {
  await client.messages.create({ model, max_tokens: 1024, messages: user("!status 429") });
  return {};
});

await scenario("sdk-overloaded", async () => {
  await client.messages.create({ model, max_tokens: 1024, messages: user("!status 500") });
  return {};
});

await scenario("sdk-error-midstream", async () => {
  const stream = client.messages.stream({ model, max_tokens: 1024, messages: user("!error_midstream\n" + "word ".repeat(40)) });
  await stream.finalMessage();
  return {};
});

await scenario("sdk-web-search", async () => {
  const created = await client.messages.create({ model, max_tokens: 1024, messages: user(searched), tools: [webSearch] });
  const stream = client.messages.stream({ model, max_tokens: 1024, messages: user(searched), tools: [webSearch] });
  const citations = [];
  let json = "";
  stream.on("citation", (citation) => citations.push(citation));
  stream.on("inputJson", (delta) => { json += delta; });
  const final = await stream.finalMessage();
  const again = await client.messages.create({ model, max_tokens: 1024, tools: [webSearch], messages: [
    ...user(searched), { role: "assistant", content: final.content }, { role: "user", content: "Thanks!" }] });
  return { created: created.content, final: final.content, citations, json, usage: final.usage,
           again: again.content.at(-1).text };
});

const anthropic = createAnthropic({ baseURL: `${baseURL}/v1`, apiKey });
const tools = {
  get_weather: tool({
    description: "Weather in a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => `sunny in ${city}`,
  }),
};

function summary(text, steps, finishReason) {
  const first = steps[0];
  return { text, finishReason, steps: steps.length, firstFinish: first.finishReason,
           firstCalls: first.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })) };
}

await scenario("ai-generateText", async () => {
  const r = await generateText({ model: anthropic(model), tools, stopWhen: stepCountIs(3), prompt: callPrompt });
  return summary(r.text, r.steps, r.finishReason);
});

await scenario("ai-streamText", async () => {
  const r = streamText({ model: anthropic(model), tools, stopWhen: stepCountIs(3), prompt: callPrompt });
  let text = "";
  for await (const part of r.textStream) text += part;
  return summary(text, await r.steps, await r.finishReason);
});

await scenario("ai-reasoning", async () => {
  const r = await generateText({ model: anthropic(model), prompt: "!reasoning\nDone thinking.",
                                 providerOptions: { anthropic: { thinking: { type: "enabled", budgetTokens: 2048 } } } });
  return { text: r.text, reasoning: r.reasoningText, usage: r.usage };
});

const searchTools = () => ({ web_search: anthropic.tools.webSearch_20250305({ maxUses: 3 }) });

function searchSummary(r, extra) {
  return { text: r.text, finishReason: r.finishReason, sources: r.sources, warnings: r.warnings,
           toolCalls: r.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input,
                                                providerExecuted: c.providerExecuted, invalid: c.invalid ?? false })),
           toolResults: r.toolResults.map((t) => ({ id: t.toolCallId, name: t.toolName, output: t.output })),
           request: r.request?.body, ...extra };
}

await scenario("ai-web-search-generateText", async () => {
  const r = await generateText({ model: anthropic(model), prompt: searched, tools: searchTools() });
  const again = await generateText({ model: anthropic(model), tools: searchTools(), messages: [
    { role: "user", content: searched }, ...r.response.messages, { role: "user", content: "Thanks!" }] });
  return searchSummary(r, { again: again.text, againRequest: again.request?.body });
});

await scenario("ai-web-search-streamText", async () => {
  const r = streamText({ model: anthropic(model), prompt: searched, tools: searchTools() });
  const parts = [];
  const errors = [];
  for await (const part of r.fullStream) {
    parts.push(part.type);
    if (part.type === "error") errors.push(String(part.error?.message ?? part.error));
  }
  return searchSummary({ text: await r.text, finishReason: await r.finishReason, sources: await r.sources,
                         warnings: await r.warnings, toolCalls: await r.toolCalls, toolResults: await r.toolResults,
                         request: (await r.request)?.body }, { parts, errors });
});

console.log(JSON.stringify(out));
