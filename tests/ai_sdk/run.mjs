// The Vercel AI SDK against pandora_v1: tool loops with generateText and streamText over
// openai.chat(model), and the openai-compatible provider. Prints one JSON object per scenario.
// Run by tests/test_ai_sdk_e2e.py with BASE_URL and API_KEY set.
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const baseURL = process.env.BASE_URL;
const apiKey = process.env.API_KEY;
const prompt = '!call get_weather {"city": "Paris"}';

const tools = {
  get_weather: tool({
    description: "Current weather in a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => `sunny in ${city}`,
  }),
};

function summary(name, text, steps, finishReason) {
  const first = steps[0];
  return {
    name,
    text,
    finishReason,
    steps: steps.length,
    firstCalls: first.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })),
    firstFinish: first.finishReason,
  };
}

const openai = createOpenAI({ baseURL, apiKey });
const compatible = createOpenAICompatible({ name: "pandora", baseURL, apiKey });

const out = [];
{
  const r = await generateText({ model: openai.chat("gpt-4o"), tools, stopWhen: stepCountIs(3), prompt });
  out.push(summary("generateText", r.text, r.steps, r.finishReason));
}
{
  const r = streamText({ model: openai.chat("gpt-4o"), tools, stopWhen: stepCountIs(3), prompt });
  let text = "";
  for await (const part of r.textStream) text += part;
  out.push(summary("streamText", text, await r.steps, await r.finishReason));
}
{
  const r = streamText({ model: compatible.chatModel("gpt-4o"), tools, stopWhen: stepCountIs(3), prompt });
  let text = "";
  for await (const part of r.textStream) text += part;
  out.push(summary("compatible-streamText", text, await r.steps, await r.finishReason));
}
console.log(JSON.stringify(out));
