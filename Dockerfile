# Hades: one image for every program, on Node 24 LTS (docs/operations.md#node-versions).
#   docker build -t hades:0.1.0 .
#   docker run --rm hades:0.1.0 -h                                   # hades (the DNS server)
#   docker run --rm --entrypoint node hades:0.1.0 dist/src/bin/hades-kubeapi.js -h
# (likewise hades-scanner.js, hades-schedule.js, hades-apicmd.js; in Kubernetes:
#  command: [node, /app/dist/src/bin/<program>.js])

# --- build: every dependency, then tsc into dist/
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" would build before the sources are here; lmdb and
# msgpackr-extract load their prebuilt binaries (optional packages) without install scripts
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json
# the web UI: app.ts compiled with the DOM lib, the page's static files beside it in dist
COPY scripts/build-ui.mjs ./scripts/
RUN node scripts/build-ui.mjs
# the batched UDP socket (native/README.md): a plain C build against the image's Node headers
COPY native ./native
COPY scripts/build-native.mjs ./scripts/
RUN node scripts/build-native.mjs && test -f build/udp_batch.node

# --- production dependencies only
FROM node:24-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# --- runtime
FROM node:24-bookworm-slim
# iputils-ping: hades-scanner's ICMP checks (enable-icmp); libcap2-bin lets its postinst give
# ping its file capability (cap_net_raw) for hosts without ping_group_range
RUN apt-get update \
 && apt-get install -y --no-install-recommends iputils-ping libcap2-bin ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 hades \
 && useradd --system --uid 10001 --gid hades --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin hades
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/build ./build
COPY package.json ./
USER 10001:10001
EXPOSE 53/udp 53/tcp 9001/tcp 9153/tcp
# node's flags for hades are those of its bin's shebang (HADES_NODE_FLAGS, src/dns/memory.ts)
ENTRYPOINT ["node", "--max-semi-space-size=2", "dist/src/bin/hades.js"]
