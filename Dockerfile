# surveykb: one image for the app, its one-shot init step and its CLI.
#   docker build -t surveykb .
#   docker run --rm -p 8000:8000 surveykb   (SQLite in /app/var; see docker-compose.yml for PostgreSQL)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SURVEYKB_VAR_DIR=/app/var

WORKDIR /app
RUN useradd --create-home --uid 10001 surveykb

# Dependencies first (a layer that changes only with pyproject.toml or the package code).
# The install is editable because templates/, static/ and data/ are found next to app/.
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install -e '.[postgres]'

COPY alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY data ./data

RUN mkdir -p /app/var && chown surveykb:surveykb /app/var
USER surveykb
VOLUME ["/app/var"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/v1/healthz', timeout=4).status != 200)"

# Alone (SQLite): migrate, load the shipped survey, create the admin once, serve.
CMD ["sh", "-c", "surveykb db upgrade && surveykb load-survey && surveykb bootstrap --port 8000 && exec surveykb serve --host 0.0.0.0 --port 8000"]
