// openai-node against pandora_v1: chat completions (create, stream, the stream helper, runTools),
// the Responses API (create, stream helper, a tool loop by previous_response_id, its input items), images with the
// seeds' dall-e-3 alias, models, and the errors a client branches on. Prints one JSON list of
// scenarios. Run by tests/test_openai_node_e2e.py with BASE_URL and API_KEY set.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const model = "gpt-4o";
const user = (content) => [{ role: "user", content }];
const weather = { city: { type: "string" } };
const out = [];

async function scenario(name, run) {
  try {
    out.push({ name, ...(await run()) });
  } catch (error) {
    out.push({ name, error: { kind: error.constructor.name, status: error.status ?? null,
                              code: error.code ?? null, message: String(error.message) } });
  }
}

await scenario("chat-create", async () => {
  const r = await client.chat.completions.create({ model, messages: user("Hello there, friend.") });
  return { id: r.id, object: r.object, text: r.choices[0].message.content,
           finish: r.choices[0].finish_reason, usage: r.usage };
});

await scenario("chat-stream", async () => {
  const stream = await client.chat.completions.create({
    model, messages: user("Hello there, friend."), stream: true, stream_options: { include_usage: true } });
  let text = "", finish = null, usage = null, ids = new Set();
  for await (const chunk of stream) {
    ids.add(chunk.id);
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      finish = choice.finish_reason ?? finish;
    }
  }
  return { text, finish, usage, ids: ids.size };
});

await scenario("chat-stream-helper", async () => {
  const stream = client.chat.completions.stream({ model, messages: user("Hello there, friend.") });
  let deltas = "";
  stream.on("content", (delta) => { deltas += delta; });
  const final = await stream.finalChatCompletion();
  return { text: final.choices[0].message.content, deltas, finish: final.choices[0].finish_reason };
});

for (const stream of [false, true]) {
  await scenario(stream ? "runTools-stream" : "runTools", async () => {
    const calls = [];
    const runner = client.chat.completions.runTools({
      model, stream, messages: user('!call get_weather {"city": "Paris"}'),
      tools: [{ type: "function", function: {
        name: "get_weather", description: "Current weather in a city",
        parameters: { type: "object", properties: weather, required: ["city"] },
        parse: JSON.parse,
        function: ({ city }) => { calls.push(city); return `sunny in ${city}`; } } }],
    });
    return { text: await runner.finalContent(), calls, messages: runner.messages.length };
  });
}

await scenario("responses-create", async () => {
  const r = await client.responses.create({ model, input: "Hello there, friend." });
  return { id: r.id, status: r.status, text: r.output_text, usage: r.usage };
});

await scenario("responses-stream", async () => {
  const stream = client.responses.stream({ model, input: "Hello there, friend." });
  const types = [];
  let deltas = "";
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === "response.output_text.delta") deltas += event.delta;
  }
  const final = await stream.finalResponse();
  return { types, deltas, text: final.output_text, status: final.status };
});

await scenario("responses-tool-loop", async () => {
  const tools = [{ type: "function", name: "get_weather", description: "Current weather in a city",
                   parameters: { type: "object", properties: weather, required: ["city"] }, strict: false }];
  const first = await client.responses.create({ model, tools, input: '!call get_weather {"city": "Paris"}' });
  const call = first.output.find((item) => item.type === "function_call");
  const { city } = JSON.parse(call.arguments);
  const second = await client.responses.create({
    model, tools, previous_response_id: first.id,
    input: [{ type: "function_call_output", call_id: call.call_id, output: `sunny in ${city}` }] });
  const listed = [];
  for await (const item of client.responses.inputItems.list(second.id, { limit: 2 })) listed.push(item.type);
  return { call: { name: call.name, city, id: call.call_id }, text: second.output_text, listed };
});

await scenario("images-dall-e-3", async () => {
  const r = await client.images.generate({ model: "dall-e-3", prompt: "!dalle 1\na lighthouse at dusk" });
  return { url: r.data[0].url, revised: r.data[0].revised_prompt ?? null };
});

await scenario("models", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  return { ids };
});

await scenario("bad-key", async () => {
  const bad = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: "not-a-token", maxRetries: 0 });
  return { unexpected: await bad.chat.completions.create({ model, messages: user("hi") }) };
});

await scenario("rate-limited", async () => {
  return { unexpected: await client.chat.completions.create({ model, messages: user("!status 429") }) };
});

await scenario("error-midstream", async () => {
  const stream = await client.chat.completions.create({
    model, stream: true, messages: user("!error_midstream\n" + "word ".repeat(40)) });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  return { unexpected: text };
});

console.log(JSON.stringify(out));
