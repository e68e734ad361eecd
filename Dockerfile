# nomad-lite in a container: `docker-compose up --build` starts three nodes (docker-compose.yml).
#
# Stages: `build` compiles nomad-lite and nomad-lite-init from source on debian:bookworm;
# `runtime-base` is debian:bookworm-slim with only the shared libraries they need and the
# users; the last stage adds the two binaries. NOMAD_LITE_BINARY picks where the binaries come
# from: `source` (the default) compiles them in `build`; `prebuilt` takes `nomad-lite` and
# `nomad-lite-init` from the root of the build context, binaries built by `make build` on a
# Debian bookworm host (make test-docker does this, with BuildKit, which then skips `build`).
ARG NOMAD_LITE_BINARY=source

FROM debian:bookworm AS build
ARG JOBS=2
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      build-essential cmake pkg-config \
      libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libgrpc++-dev \
      nlohmann-json3-dev libcli11-dev libspdlog-dev libcpp-httplib-dev libboost-dev \
      zlib1g-dev libssl-dev libjemalloc-dev libhowardhinnant-date-dev libtomlplusplus-dev \
      libgtest-dev libgmock-dev libbenchmark-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# (CMakeLists.txt asks for GoogleTest and Google Benchmark at configure time, hence the last
# line; only the two programs are compiled.)
WORKDIR /src
COPY . .
# RelWithDebInfo, as make build (GCC 12 at -O3 warns falsely, and warnings are errors);
# strip drops the debug info.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build -j"$JOBS" --target nomad-lite nomad-lite-init \
 && mkdir /out \
 && strip -o /out/nomad-lite /build/nomad-lite \
 && strip -o /out/nomad-lite-init /build/nomad-lite-init

FROM scratch AS binary-source
COPY --from=build /out/ /

# The Dockerfile is named too so that this stage builds (empty of binaries) from a context
# without them: the classic builder builds every stage, used or not.
FROM scratch AS binary-prebuilt
COPY Dockerfile nomad-lit[e] nomad-lite-ini[t] /

FROM binary-${NOMAD_LITE_BINARY} AS binary

FROM debian:bookworm-slim AS runtime-base
# The libraries nomad-lite links against (readelf -d build/nomad-lite), nothing else.
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libspdlog1.10 libfmt9 \
      libcpp-httplib0.11 libjemalloc2 libssl3 zlib1g libdate-tz3 tzdata \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
# `nomad` runs the server. `nomad-job` is for --job-user: a server started as root (compose:
# `user: root`) with `--job-user nomad-job` runs every job as that user, who can read neither
# the data directory nor the server's files.
RUN groupadd --system --gid 10001 nomad \
 && useradd --system --uid 10001 --gid nomad --home-dir /var/lib/nomad-lite \
      --shell /usr/sbin/nologin nomad \
 && groupadd --system --gid 10002 nomad-job \
 && useradd --system --uid 10002 --gid nomad-job --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin nomad-job \
 && install -d -o nomad -g nomad -m 0711 /var/lib/nomad-lite
COPY docker/healthcheck /usr/local/bin/nomad-lite-healthcheck

FROM runtime-base
COPY --from=binary /nomad-lite /nomad-lite-init /usr/local/bin/
USER nomad
WORKDIR /var/lib/nomad-lite
VOLUME /var/lib/nomad-lite
EXPOSE 50051 8080
ENTRYPOINT ["nomad-lite"]
# One node on its own; docker-compose.yml gives each node its flags. --insecure: in a
# container the ports must listen beyond loopback; publish them on 127.0.0.1 only, or give
# the node TLS and a token file (README, "Running it safely").
CMD ["server", "--bind", "0.0.0.0", "--insecure", "--dashboard-port", "8080", \
     "--data-dir", "/var/lib/nomad-lite"]
