# The IKI service: migrates, seeds, then serves on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=sqlite:////app/data/iki.db

# WeasyPrint renders the PDF documents: pango, harfbuzz and a font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system iki && useradd --system --gid iki --home-dir /app --shell /usr/sbin/nologin iki

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY seed ./seed
RUN pip install . && mkdir -p /app/data && chown -R iki:iki /app/data

USER iki
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/readyz', timeout=4)"]

# A seed that cannot load (say, a new SK file with an error) is reported but does not keep
# the service down. The webhook dispatcher runs beside the server (`--with-worker`); a
# deployment of several replicas runs `iki worker` as a service of its own instead.
CMD ["sh", "-c", "iki migrate && { iki seed || echo 'iki seed failed: serving without it' >&2; } && exec iki serve --with-worker"]
