# Harmonia container image (docs/install.md#container).
#   docker build -t harmonia .
#   docker run -d -p 8080:8080 -v harmonia-data:/data harmonia
# Stage 1 compiles the release binary; stage 2 is a slim Debian with only the
# binary, running as an unprivileged user, its data in a volume.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# .cargo/config.toml sets SQLite's build flags (memory per open organization).
COPY .cargo .cargo
COPY src src
COPY migrations migrations
COPY web web
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin harmonia \
    && cp target/release/harmonia /harmonia

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 harmonia \
    && useradd --system --uid 10001 --gid harmonia --home-dir /data \
       --shell /usr/sbin/nologin harmonia \
    && install -d -o harmonia -g harmonia -m 0750 /data
COPY --from=build /harmonia /usr/bin/harmonia
USER harmonia:harmonia
ENV HARMONIA_DATA_DIR=/data \
    HARMONIA_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
# `harmonia health` asks /healthz on HARMONIA_LISTEN (no curl in the image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/bin/harmonia", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/harmonia"]
CMD ["serve"]
