# The meshcp image for docker-compose.yml: dependencies are installed once at build time (not by `npm ci` into a
# shared volume at every `up`), the TypeScript is compiled, and the process runs as the unprivileged node user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary fits.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
# scripts/build.mjs compiles (npm run build) and tells bin/*.js whether dist/ is fresh.
COPY scripts ./scripts
COPY src ./src
COPY bin ./bin
COPY migrations ./migrations
COPY examples ./examples
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./
# bin/*.js (meshctl, meshcp-dp) import scripts/build.mjs, which compares dist/ with src/ and these files.
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
COPY examples ./examples
# Named volumes mounted here start with this ownership, so the node user can write its data, tokens and certificates.
RUN mkdir -p /data /tokens /certs && chown node:node /data /tokens /certs
USER node
EXPOSE 5680 5681 5682
CMD ["node", "dist/main.js"]
