# A FROM-scratch image of the function, for those who have Docker (`make image` builds the same
# image without Docker). Build: docker build -t tinyfc-hello . ; run: docker run -p 9000:9000 tinyfc-hello
# FUNCTION selects the example (or use --build-arg BIN=... for a binary target of your own).
FROM rust:1-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
ARG FUNCTION=hello
RUN cargo build --release --target x86_64-unknown-linux-musl --example "$FUNCTION" \
 && cp "target/x86_64-unknown-linux-musl/release/examples/$FUNCTION" /bootstrap

FROM scratch
COPY --from=build /bootstrap /bootstrap
ENV FC_SERVER_PORT=9000
EXPOSE 9000
ENTRYPOINT ["/bootstrap"]
