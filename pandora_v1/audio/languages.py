"""Languages as Whisper names them: ``verbose_json.language`` is the English name, never the code
(the AI SDK maps names back to codes; a code becomes ``undefined`` there)."""
from __future__ import annotations

import unicodedata

# ISO-639-1 (and Whisper's own few) -> the English name Whisper answers with.
NAMES = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao",
    "uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala",
    "ha": "hausa", "ba": "bashkir", "jw": "javanese", "jv": "javanese", "su": "sundanese", "yue": "cantonese",
}
# A script the text is written in -> the language most likely meant (without a ``language`` to go by).
SCRIPTS = (("HANGUL", "korean"), ("HIRAGANA", "japanese"), ("KATAKANA", "japanese"), ("CJK", "chinese"),
           ("CYRILLIC", "russian"), ("ARABIC", "arabic"), ("HEBREW", "hebrew"), ("GREEK", "greek"),
           ("THAI", "thai"), ("DEVANAGARI", "hindi"))


def name(code: str | None, text: str) -> str:
    """The language's English name: of ``code`` when the client gave one, else the text's script's
    (Latin script, or no letters: english)."""
    if code:
        return NAMES[code]
    counts: dict[str, int] = {}
    for char in text[:2000]:
        if char.isalpha() and ord(char) > 0x024F:
            script = unicodedata.name(char, "").split(" ")[0]
            counts[script] = counts.get(script, 0) + 1
    for script, language in SCRIPTS:     # kana first: Japanese text has Han characters too
        if counts.get(script) and (script in ("HANGUL", "HIRAGANA", "KATAKANA") or
                                   counts[script] == max(counts.values())):
            return language
    return "english"
