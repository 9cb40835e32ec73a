# One image for every Vigil service; compose picks the service with
# `command: ["deno", "task", "--quiet", "<service>"]` (producer, bridge, archive,
# detector, notifier, web, db:migrate).
#
# Every npm package is installed at build time from deno.lock (--frozen), so
# nothing is downloaded when a container starts. The services run as the
# image's non-root `deno` user; the code stays owned by root (read-only to
# them), and only ./data, the npm folder and Deno's cache are theirs.
ARG DENO_VERSION=2.9.6
FROM denoland/deno:${DENO_VERSION}

ENV DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1

WORKDIR /app

# Dependencies first, so a code change does not re-install them. Every
# workspace member's deno.json is needed to resolve the workspace.
COPY deno.json deno.lock ./
COPY shared/deno.json shared/
COPY producer/deno.json producer/
COPY bridge/deno.json bridge/
COPY archive/deno.json archive/
COPY detector/deno.json detector/
COPY notifier/deno.json notifier/
COPY web/deno.json web/
COPY tools/deno.json tools/
RUN deno install --frozen

COPY . .
# Resolve and cache everything each entry point imports (fails the build if
# anything would be fetched at run time), then hand the writable parts over.
RUN deno install --frozen \
 && deno cache --frozen producer/main.ts bridge/main.ts archive/main.ts \
      detector/main.ts notifier/main.ts web/main.ts shared/migrate_main.ts shared/healthcheck.ts \
 && mkdir -p data .vigil \
 && chown -R deno:deno data .vigil node_modules "$DENO_DIR"

USER deno

# Ops ports: producer 9101, bridge 9102, detector 9103, notifier 9104,
# archive 9107; web (API, live view, /metrics) 8080.
EXPOSE 8080 9101 9102 9103 9104 9107

CMD ["deno", "task", "--quiet", "web"]
