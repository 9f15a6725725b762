# A FROM-scratch image of the function, for those who have Docker (`make image` builds the same
# image without Docker). Build: docker build -t tinyfc-hello . ; run: docker run -p 9000:9000 tinyfc-hello
# FUNCTION selects the example (or use --build-arg BIN=... for a binary target of your own).
FROM rust:1-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
ARG FUNCTION=hello
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --example "$FUNCTION" \
 && cp "target/x86_64-unknown-linux-musl/release/examples/$FUNCTION" /bootstrap
# What FROM scratch lacks and most functions need: the CA bundle HTTPS clients read, and a /tmp
# anyone may write (mode 1777); `cargo tinyfc image --ca-certs` adds the same (docs/packaging.md).
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp && chmod 1777 /rootfs/tmp \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build /bootstrap /bootstrap
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ENV FC_SERVER_PORT=9000
EXPOSE 9000
ENTRYPOINT ["/bootstrap"]
