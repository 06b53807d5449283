# syntax=docker/dockerfile:1
# The operator image: kopf + tierq's handlers (the `operator` extra); no database driver.
# Built from the repository root, from the same uv.lock as worker-image/Dockerfile:
#
#   docker build -t tierq-operator .
#
# Runs as uid/gid 10001 on a read-only root filesystem; liveness on :8080/healthz.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: resolve the `operator` extra from the lock into /opt/venv --------------------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --extra operator --no-install-project
COPY operator ./operator
RUN uv sync --frozen --no-dev --extra operator --no-editable

# ---- runtime -----------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 tierq \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin tierq
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
# The chart sets its own command/args (peering or --standalone, log level); this default
# is what `docker run` gets.
ENTRYPOINT ["kopf"]
CMD ["run", "--all-namespaces", "-m", "tierq.operator.main", \
     "--liveness=http://0.0.0.0:8080/healthz"]
