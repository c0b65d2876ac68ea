# One image for the whole platform: the Ray head and workers, the MLflow server and the sweep service.
#   docker compose build            (CPU torch by default)
#   TORCH_INDEX=https://download.pytorch.org/whl/cu124 docker compose build   (a CUDA build for GPU workers)
# Pinned by tag; pin by digest (python:3.11-slim@sha256:...) once you can resolve it from your registry.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CONSTRAINT=/app/constraints.txt

# curl for health checks; rsync and openssh-client are what `ray up`-style tooling expects on nodes.
RUN apt-get update && apt-get install -y --no-install-recommends curl rsync openssh-client \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user owns the application and the shared storage mount point.
RUN useradd --create-home --uid 1000 mca && mkdir -p /shared && chown mca:mca /shared

WORKDIR /app
# Every pip install below is pinned by constraints.txt (exact versions); torch by TORCH_VERSION.
COPY constraints.txt ./
# torch's own dependencies come from PyPI at their pinned versions (the torch index may not carry them);
# torch itself from TORCH_INDEX (its local version, e.g. +cpu, sorts above PyPI's plain one).
RUN pip install --index-url "${TORCH_INDEX}" --extra-index-url https://pypi.org/simple "torch==${TORCH_VERSION}"
# The MLflow server's Postgres driver and S3 (MinIO) client.
RUN pip install psycopg2-binary boto3
COPY --chown=mca:mca pyproject.toml README.md ./
COPY --chown=mca:mca mca_platform ./mca_platform
COPY --chown=mca:mca sweeps ./sweeps
COPY --chown=mca:mca cluster ./cluster
RUN pip install .

USER mca
CMD ["python", "-m", "mca_platform.sweep", "--help"]
