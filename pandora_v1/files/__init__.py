"""Files: what clients send and what answers show.

sniff.py    what bytes are (one signature table), their upload use case, image sizes
audio.py    how long an audio file plays, from its headers
parts.py    the value types: an input file as parsed, an uploaded file, a resolved image
fetch.py    client URLs fetched without reaching private addresses
uploads.py  the upstream's three-step upload (and reuse of an earlier one); documents processed
media.py    images and sandbox files fetched from the upstream, saved and served

Imported by translate (parts, sniff) and above; it imports auth, upstream, runtime.
"""
