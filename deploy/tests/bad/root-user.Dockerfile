# expect: runtime USER must be 65532:65532
# An image that runs as root must be rejected.
ARG RUST_VERSION=1.95

# ---- build: Debian bookworm, the same glibc (2.36) as the runtime base --------------------------
FROM rust:${RUST_VERSION}-bookworm AS builder
# GMP (the ECDSA engine's big-integer backend) is built from source and needs m4.
RUN apt-get update \
 && apt-get install -y --no-install-recommends m4 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mpcium-node -p mpcium-cli \
 && mkdir -p /out/bin /out/data \
 && cp target/release/mpcium target/release/mpcium-cli /out/bin/

# ---- runtime: glibc + libgcc only, no shell, non-root -------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="mpcium-rs" \
      org.opencontainers.image.description="Threshold-signature (MPC) wallet node and operator CLI" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/bin/mpcium /app/mpcium
COPY --from=builder /out/bin/mpcium-cli /app/mpcium-cli
COPY --from=builder --chown=65532:65532 /out/data /app/data
USER 0:0
WORKDIR /app
# healthcheck.address (when healthcheck.enabled): /health, /healthz, /readyz, /metrics
EXPOSE 8080
ENTRYPOINT ["/app/mpcium"]
CMD ["version"]
