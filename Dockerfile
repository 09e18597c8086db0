# One image for both processes: `python -m api` (default) and `python -m bot` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY core ./core
COPY bot ./bot
COPY cogs ./cogs
COPY api ./api
# The same pinned versions as CI (constraints.txt; README, "Dependencies").
RUN pip install -c constraints.txt . \
 && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin app \
 && mkdir -p /app/data \
 && chown -R app:app /app/data

USER app
ENV JIMENG_DATA_DIR=/app/data \
    API_HOST=0.0.0.0 \
    API_PORT=5100
VOLUME ["/app/data"]
EXPOSE 5100

# Reads API_HOST / API_PORT as the server does (environment, then .env), so a changed port stays healthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "api.healthcheck"]

CMD ["python", "-m", "api"]
