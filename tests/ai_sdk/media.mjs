// The Vercel AI SDK's image and transcription models against pandora_v1: generateImage with the seeds'
// dall-e-3 alias (n split into calls of one), edits with one and two images (the SDK's form: "image" /
// "image[]", file name "blob"), and experimental_transcribe with whisper-1 (verbose_json) and
// gpt-4o-transcribe (json). Inputs come as base64 in PNG_A, PNG_B and WAV. Prints one JSON list.
// Run by tests/test_ai_sdk_media_e2e.py with BASE_URL and API_KEY set.
import { createOpenAI } from "@ai-sdk/openai";
import { experimental_transcribe as transcribe, generateImage } from "ai";

const openai = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY });
const bytes = (name) => Uint8Array.from(Buffer.from(process.env[name], "base64"));
const b64 = (image) => Buffer.from(image.uint8Array).toString("base64");
const out = [];

async function scenario(name, run) {
  try {
    out.push({ name, ...(await run()) });
  } catch (error) {
    out.push({ name, error: { kind: error.constructor.name, message: String(error.message),
                              status: error.statusCode ?? null, body: error.responseBody ?? null } });
  }
}

await scenario("generate-dall-e-3", async () => {
  const r = await generateImage({ model: openai.image("dall-e-3"), prompt: "!picture\nA red fox in snow",
                                  n: 2, size: "1024x1024" });
  return { images: r.images.map(b64), mediaTypes: r.images.map((i) => i.mediaType),
           metadata: r.providerMetadata.openai.images, usage: r.usage };
});

await scenario("edit-one", async () => {
  const r = await generateImage({ model: openai.image("gpt-image-1"),
                                  prompt: { text: "!picture\nMake it blue", images: [bytes("PNG_A")] },
                                  providerOptions: { openai: { quality: "low", inputFidelity: "high" } } });
  return { images: r.images.map(b64), metadata: r.providerMetadata.openai.images };
});

await scenario("edit-two", async () => {
  const r = await generateImage({ model: openai.image("gpt-image-1"),
                                  prompt: { text: "!picture\nSide by side", images: [bytes("PNG_A"), bytes("PNG_B")] } });
  return { images: r.images.map(b64) };
});

await scenario("transcribe-whisper", async () => {
  const r = await transcribe({ model: openai.transcription("whisper-1"), audio: bytes("WAV"),
                               providerOptions: { openai: { timestampGranularities: ["segment"] } } });
  return { text: r.text, segments: r.segments, language: r.language ?? null, duration: r.durationInSeconds };
});

await scenario("transcribe-gpt-4o", async () => {
  const r = await transcribe({ model: openai.transcription("gpt-4o-transcribe"), audio: bytes("WAV"),
                               providerOptions: { openai: { language: "en" } } });
  return { text: r.text, segments: r.segments, language: r.language ?? null, duration: r.durationInSeconds ?? null };
});

console.log(JSON.stringify(out));
