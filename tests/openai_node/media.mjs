// openai-node against pandora_v1's media routes: images.edit with one and two images (and streamed),
// audio.transcriptions.create in json, verbose_json, text, srt and vtt and streamed, and audio.speech.
// Inputs come as base64 in PNG_A, PNG_B and WAV. Prints one JSON list of scenarios.
// Run by tests/test_openai_node_media_e2e.py with BASE_URL and API_KEY set.
import OpenAI, { toFile } from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const bytes = (name) => Buffer.from(process.env[name], "base64");
const png = (name, file) => toFile(bytes(name), file, { type: "image/png" });
const out = [];

async function scenario(name, run) {
  try {
    out.push({ name, ...(await run()) });
  } catch (error) {
    out.push({ name, error: { kind: error.constructor.name, status: error.status ?? null,
                              code: error.code ?? null, param: error.param ?? null, message: String(error.message) } });
  }
}

await scenario("edit-one", async () => {
  const r = await client.images.edit({ model: "gpt-image-1", image: await png("PNG_A", "a.png"),
                                       prompt: "!picture\nMake it blue" });
  return { b64: r.data.map((d) => d.b64_json), size: r.size, usage: r.usage };
});

await scenario("edit-two", async () => {
  const r = await client.images.edit({ model: "gpt-image-1", image: [await png("PNG_A", "a.png"), await png("PNG_B", "b.png")],
                                       prompt: "!picture\nSide by side" });
  return { b64: r.data.map((d) => d.b64_json) };
});

await scenario("edit-stream", async () => {
  const stream = await client.images.edit({ model: "gpt-image-1", image: await png("PNG_A", "a.png"),
                                            prompt: "!picture\n!partials 1\nSepia", stream: true, partial_images: 1 });
  const events = [];
  for await (const event of stream) events.push({ type: event.type, b64: event.b64_json });
  return { events };
});

await scenario("edit-too-many", async () => {
  const images = [];
  for (let i = 0; i < 17; i++) images.push(await png("PNG_A", `${i}.png`));
  await client.images.edit({ model: "gpt-image-1", image: images, prompt: "x" });
  return {};
});

for (const format of ["json", "verbose_json", "text", "srt", "vtt"]) {
  await scenario(`transcribe-${format}`, async () => {
    const r = await client.audio.transcriptions.create({
      model: "whisper-1", file: await toFile(bytes("WAV"), "clip.wav", { type: "audio/wav" }),
      response_format: format, timestamp_granularities: format === "verbose_json" ? ["word"] : undefined });
    return { result: r };
  });
}

await scenario("transcribe-stream", async () => {
  const stream = await client.audio.transcriptions.create({
    model: "gpt-4o-mini-transcribe", file: await toFile(bytes("WAV"), "clip.wav"), stream: true });
  const events = [];
  for await (const event of stream) events.push(event);
  return { events };
});

await scenario("speech", async () => {
  const r = await client.audio.speech.create({ model: "gpt-4o-mini-tts", voice: "coral", input: "Read this aloud.",
                                              response_format: "opus" });
  return { b64: Buffer.from(await r.arrayBuffer()).toString("base64"), type: r.headers.get("content-type") };
});

console.log(JSON.stringify(out));
