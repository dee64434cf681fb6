# syntax=docker/dockerfile:1
# Vigil's service image: `docker build -t vigil .`, then
#   docker run -e VIGIL_API_TOKEN=<16+ random characters> -p 127.0.0.1:7070:7070 vigil

# --- build: compile TypeScript with the dev dependencies, then drop them ---------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would compile before the sources are copied in.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# --- run: the compiled service, its production dependencies and the dashboard's files -------
FROM node:20-slim
ENV NODE_ENV=production \
    VIGIL_HOST=0.0.0.0 \
    VIGIL_PORT=7070
WORKDIR /app
# Owned by root and read-only to the user that runs the service.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/web ./web
USER node
EXPOSE 7070
# /healthz needs no token; node:20-slim has no curl, so Node itself asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.VIGIL_PORT || 7070) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/app/cli.js", "run"]
