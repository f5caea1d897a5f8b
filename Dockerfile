# 整改助手 — the bot, its CLI and its data, on Python 3.11.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/app/data \
    LOG_FORMAT=json

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install . \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin zhenggai \
    && mkdir -p /app/var && chown zhenggai /app/var
COPY data ./data

USER zhenggai
EXPOSE 8080
# Long polling by default; for webhooks: zhenggai run --webhook-url https://… --port 8080
CMD ["zhenggai", "run"]
