// The Vercel AI SDK's Responses model against pandora_v1: two-step tool loops with the default
// store (the SDK replays the earlier assistant text as an item_reference) through
// openai.responses(model) and plain openai(model), generateText and streamText.
// Prints one JSON array, one object per scenario. Run by tests/test_responses_clients_e2e.py
// with BASE_URL and API_KEY set.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const openai = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY });
const prompt = 'Let me check.\n!call get_weather {"city": "Paris"}';
const tools = {
  get_weather: tool({
    description: "Current weather in a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => `sunny in ${city}`,
  }),
};

function body(step) {
  const sent = step.request?.body;
  return typeof sent === "string" ? JSON.parse(sent) : sent;
}

function summary(name, text, steps, finishReason, providerMetadata) {
  const first = steps[0];
  return {
    name,
    text,
    finishReason,
    steps: steps.length,
    firstText: first.text,
    firstFinish: first.finishReason,
    firstCalls: first.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })),
    secondInput: steps.length > 1 ? body(steps[1]).input : null,
    responseId: providerMetadata?.openai?.responseId ?? null,
  };
}

const out = [];
for (const [name, model] of [["responses", openai.responses("gpt-4o")], ["plain", openai("gpt-4o")]]) {
  {
    const r = await generateText({ model, tools, stopWhen: stepCountIs(3), prompt });
    out.push(summary(`${name}-generateText`, r.text, r.steps, r.finishReason, r.providerMetadata));
  }
  {
    const r = streamText({ model, tools, stopWhen: stepCountIs(3), prompt });
    let streamed = "";
    for await (const part of r.textStream) streamed += part;   // every step's text
    out.push({ ...summary(`${name}-streamText`, await r.text, await r.steps, await r.finishReason,
                          await r.providerMetadata), streamed });
  }
}
console.log(JSON.stringify(out));
