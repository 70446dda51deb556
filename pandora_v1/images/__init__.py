"""The images API: ``/v1/images/generations`` and ``/v1/images/edits`` on the upstream's image tool.

params.py   the request (JSON or a multipart form, where every value is a string), OpenAI's rules
prompt.py   what the upstream is asked: the prompt plus the options it has no field for, in words
draw.py     one upstream turn per image (picture_v2), n of them at once within a limit
output.py   the bytes as asked (Pillow), the response body and stream events, usage

The platform spec's section 4 is the contract. Imported by the blueprints; it
imports answer (the pipeline), files, translate, usage and below.
"""
