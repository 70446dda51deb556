// The Vercel AI SDK's hosted OpenAI tools against pandora_v1: openai.tools.webSearch(),
// imageGeneration() and codeInterpreter() through generateText and streamText (whose zod schemas for
// every hosted item and event are the strictest of the clients), then a second turn that replays the
// first's provider-executed calls (item_reference with the default store).
// Prints one JSON array, one object per scenario. Run by tests/test_responses_hosted_e2e.py with
// BASE_URL, API_KEY and the prompts (SEARCH_PROMPT, IMAGE_PROMPT, PYTHON_PROMPT) set.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const openai = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY });
const model = openai.responses("gpt-4o");
const scenarios = {
  search: { tools: { web_search: openai.tools.webSearch({ searchContextSize: "medium" }) },
            prompt: process.env.SEARCH_PROMPT },
  image: { tools: { image_generation: openai.tools.imageGeneration({ partialImages: 1, quality: "low",
                                                                    outputFormat: "png", size: "1024x1024" }) },
           prompt: process.env.IMAGE_PROMPT },
  code: { tools: { code_interpreter: openai.tools.codeInterpreter({}) }, prompt: process.env.PYTHON_PROMPT },
};

function body(request) {
  const sent = request?.body;
  return typeof sent === "string" ? JSON.parse(sent) : sent;
}

function summary(name, r, extra = {}) {
  return {
    name,
    text: r.text,
    finishReason: r.finishReason,
    sources: (r.sources ?? []).map((s) => ({ type: s.sourceType, url: s.url ?? null, title: s.title ?? null,
                                              filename: s.filename ?? null })),
    toolCalls: r.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input,
                                         providerExecuted: c.providerExecuted ?? false })),
    toolResults: r.toolResults.map((t) => ({ id: t.toolCallId, name: t.toolName, output: t.output })),
    request: body(r.request),
    ...extra,
  };
}

const out = [];
for (const [name, { tools, prompt }] of Object.entries(scenarios)) {
  const r = await generateText({ model, tools, prompt });
  out.push(summary(`${name}-generateText`, r));
  const s = streamText({ model, tools, prompt });
  const parts = [];
  for await (const part of s.fullStream) {
    parts.push(part.type === "error" ? `error: ${part.error?.message ?? part.error}` : part.type);
  }
  const streamed = { text: await s.text, finishReason: await s.finishReason, sources: await s.sources,
                     toolCalls: await s.toolCalls, toolResults: await s.toolResults, request: await s.request };
  out.push(summary(`${name}-streamText`, streamed, { parts }));
  if (name === "search") {        // a second turn: the provider-executed call goes back by reference
    const next = await generateText({ model, tools,
      messages: [{ role: "user", content: prompt }, ...r.response.messages, { role: "user", content: "And now?" }] });
    out.push(summary("search-second-turn", next));
  }
}
console.log(JSON.stringify(out));
