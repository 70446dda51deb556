# The same steps as ./scripts/run: a venv with the pinned requirements, then gunicorn.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PANDORA_V1_CONFIG=/app/data/config.json
COPY requirements.txt scripts/setup ./scripts/
RUN mv scripts/requirements.txt . && ./scripts/setup
COPY . .
RUN useradd --create-home --uid 10001 pandora && mkdir -p data && cp config.json gpts.json data/ \
    && chown -R pandora /app
USER pandora
EXPOSE 33333
CMD [".venv/bin/gunicorn", "-c", "gunicorn.conf.py"]
