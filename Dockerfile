# syntax=docker/dockerfile:1
# fixbridge as a container: the bridge runs as an unprivileged user (uid 10001) with its config
# in /etc/fixbridge and its journal in /var/lib/fixbridge, both volumes. README "Running in a
# container" shows how to build and run it; tests/unit/test_deploy.py checks this file.

# ---- build: a wheel of fixbridge, installed with its dependencies into a venv -------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fixbridge ./fixbridge
# The QuickFIX dictionaries of each fix_profile, installed as fixbridge.dictionaries.
COPY specs/dictionaries ./specs/dictionaries
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/fixbridge \
    && /opt/fixbridge/bin/pip install /wheels/*.whl

# ---- runtime: the venv alone, no compiler, no build files ----------------------------------
FROM python:3.11-slim
LABEL org.opencontainers.image.title="fixbridge" \
      org.opencontainers.image.description="Read-only FIX 5.0 SP2 drop copy for the DropCopyAPI" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 fixbridge \
    && useradd --system --uid 10001 --gid fixbridge --home-dir /var/lib/fixbridge \
        --no-create-home --shell /usr/sbin/nologin fixbridge \
    && install -d -o fixbridge -g fixbridge -m 0700 /var/lib/fixbridge \
    && install -d -m 0755 /etc/fixbridge
COPY --from=build /opt/fixbridge /opt/fixbridge
ENV PATH=/opt/fixbridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FIXBRIDGE_CONFIG=/etc/fixbridge/fixbridge.toml
# Relative paths in the config (journal.path) resolve here, on the data volume.
WORKDIR /var/lib/fixbridge
VOLUME ["/etc/fixbridge", "/var/lib/fixbridge"]
USER 10001:10001
# FIX acceptor (fix.port) and /metrics, /healthz, /readyz (metrics.port)
EXPOSE 9878 9108
# /healthz answers while the process is alive and serving; slim images have no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4)"]
# SIGTERM logs every FIX session out and exits 0 (give it `docker stop -t 30`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["fixbridge"]
CMD ["run"]
