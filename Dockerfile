# The same steps as ./scripts/run: a venv with the pinned requirements, then gunicorn.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PANDORA_V1_CONFIG=/app/data/config.json
COPY requirements.txt ./
COPY scripts/setup ./scripts/setup
RUN ./scripts/setup
COPY pandora_v1 ./pandora_v1
COPY templates ./templates
COPY static ./static
COPY gunicorn.conf.py config.json gpts.json ./
RUN useradd --create-home --uid 10001 pandora \
    && mkdir -p data log images files \
    && cp config.json gpts.json data/ \
    && chown -R pandora data log images files
USER pandora
EXPOSE 33333
VOLUME ["/app/data", "/app/log", "/app/images", "/app/files"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:33333/healthz', timeout=4)"
CMD [".venv/bin/gunicorn", "-c", "gunicorn.conf.py"]
