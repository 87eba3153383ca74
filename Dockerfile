# One image for every service; APP picks which one runs (gateway, matting, comparison,
# status-projector). The matting model is reassembled at build time so workers start offline.
FROM node:20-bookworm-slim AS build
WORKDIR /mesh
ENV ONNXRUNTIME_NODE_INSTALL=skip NX_DAEMON=false CI=true
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json nx.json tsconfig.base.json ./
COPY libs libs
COPY apps apps
COPY e2e/package.json e2e/package.json
RUN npm ci --no-audit --no-fund \
 && npx nx run-many -t build --exclude=@mesh/e2e \
 && node apps/matting/dist/prepare-model.js \
 && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /mesh
COPY --from=build /mesh /mesh
ARG APP=gateway
ENV APP=${APP} NODE_ENV=production
USER node
# apps/<app>/node-flags: the service's node flags, if it has any (npm start and the tests read it too).
CMD ["sh", "-c", "exec node $(cat apps/${APP}/node-flags 2>/dev/null) apps/${APP}/dist/main.js"]
