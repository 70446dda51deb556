"""The exact wire shapes OpenAI clients parse."""
import orjson

from pandora_v1.chat.chunks import ChunkEncoder, completion


def parse(event: bytes):
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    return orjson.loads(event[6:])


def test_chunks_match_openai():
    enc = ChunkEncoder("gpt-4o", include_usage=True, id="chatcmpl-x", created=7)
    head = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 7, "model": "gpt-4o",
            "system_fingerprint": None}
    assert parse(enc.role()) == {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "",
                                                                            "refusal": None},
                                                      "logprobs": None, "finish_reason": None}], "usage": None}
    assert parse(enc.content('a "q" \n 世界'))["choices"][0]["delta"] == {"content": 'a "q" \n 世界'}
    assert parse(enc.reasoning("hm"))["choices"][0]["delta"] == {"reasoning_content": "hm"}
    assert parse(enc.finish("length"))["choices"] == [{"index": 0, "delta": {}, "logprobs": None,
                                                        "finish_reason": "length"}]
    assert parse(enc.usage({"total_tokens": 3})) == {**head, "choices": [], "usage": {"total_tokens": 3}}


def test_chunks_without_usage_have_no_usage_key():
    assert "usage" not in parse(ChunkEncoder("m").content("x"))


def test_completion_shape():
    body = completion("m", "hi", "", "stop", {"prompt_tokens": 1})
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "hi", "refusal": None}
    assert "reasoning_content" in completion("m", "hi", "why", "stop", {})["choices"][0]["message"]
