"""The audio API: ``/v1/audio/transcriptions`` on the upstream's transcribe, ``/v1/audio/speech`` by read-aloud.

transcribe.py  the form checked as OpenAI does, the file sent upstream
formats.py     every response format (json, text, srt, vtt, verbose_json, diarized_json) and the stream
languages.py   ISO-639-1 codes and the English names verbose_json answers with
speech.py      text to speech: a stored assistant message, read aloud, hidden again

The platform spec's section 5 is the contract. Imported by the blueprints; it
imports services, translate, files, usage and below.
"""
