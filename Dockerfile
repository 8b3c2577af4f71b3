# syntax=docker/dockerfile:1
# tfserve's container image: a drop-in for TF Serving's (same ports, same
# MODEL_NAME / MODEL_BASE_PATH environment, TF Serving's flags passed through).
#   docker build -t tfserve:0.1.0 .
#   docker run -p 8500:8500 -p 8501:8501 -v "$PWD/models/half_plus_two:/models/half_plus_two" \
#     -e MODEL_NAME=half_plus_two tfserve:0.1.0 [--enable_batching ...]
# docs/deploy.md says how these steps are checked without a container daemon
# (scripts/deploy/dockerfile-steps.mjs runs them in a fresh directory).

ARG NODE_VERSION=20

# --- build: the project's own install provisions libtensorflow (the TF version
# is scripts/libtensorflow.mjs's), builds the addon and compiles the TypeScript.
FROM node:${NODE_VERSION}-bookworm AS build
# The full node image has g++, make, binutils and python3; the build also needs
# cmake (cmake-js) and pip (which downloads the tensorflow-cpu wheel). Not
# pinned: the base tag follows Debian's point releases, and so do these.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake python3-pip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The wheel cache stays out of the source tree; runtime-tree.mjs copies the libraries out of it.
ENV TFSERVE_CACHE_DIR=/tmp/tfserve-cache
COPY . .
RUN npm ci \
    && npm prune --omit=dev \
    && node scripts/deploy/runtime-tree.mjs /app

# --- runtime: Node, the runtime tree, a non-root user; no compilers, no Python.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    MODEL_NAME=model \
    MODEL_BASE_PATH=/models
RUN groupadd --system --gid 10001 tfserve \
    && useradd --system --uid 10001 --gid tfserve --no-create-home --shell /usr/sbin/nologin tfserve \
    && mkdir -p /models
COPY --from=build /app /app
COPY deploy/docker/monitoring.config /etc/tfserve/monitoring.config
COPY deploy/docker/tfserve-entrypoint.sh /usr/bin/tf_serving_entrypoint.sh
RUN ln -s /app/dist/src/cli.js /usr/local/bin/tfserve
USER 10001:10001
# TF Serving's ports: gRPC, REST.
EXPOSE 8500 8501
# Healthy once every model has an AVAILABLE version (/readyz; 503 while
# loading and while draining). The slim image has no curl: Node asks.
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD ["node", "-e", "require('http').get('http://127.0.0.1:8501/readyz', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tf_serving_entrypoint.sh"]
