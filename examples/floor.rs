//! The floor: the least an FC custom runtime can be, for comparison in `make size` and `make bench`.
//! std only, no threads: bind 0.0.0.0 on the port tinyfc would use, print the same listening line,
//! answer every request on a keep-alive connection with a fixed 200. It exits on SIGTERM by the
//! default signal action (so its exit is immediate and reported as killed by the signal).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

const ANSWER: &[u8] =
    b"HTTP/1.1 200 OK\r\nx-fc-status: 200\r\ncontent-length: 13\r\n\r\nHello, World!";

fn main() -> std::io::Result<()> {
    let port = ["FC_SERVER_PORT", "FC_CUSTOM_LISTEN_PORT", "PORT"]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.parse::<u16>().ok())
        .unwrap_or(9000);
    // As tinyfc binds: ("0.0.0.0", port) would link std's host lookup and musl's DNS resolver.
    let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))?;
    println!(
        "tinyfc listening on 0.0.0.0:{}",
        listener.local_addr()?.port()
    );
    for stream in listener.incoming() {
        let _ = serve(stream?);
    }
    Ok(())
}

/// Answers each request head (up to the blank line) until the client closes. One connection at a
/// time: the floor measures start-up, not concurrency.
fn serve(mut s: TcpStream) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf = [0u8; 16 * 1024];
    let mut have = 0;
    loop {
        let n = s.read(&mut buf[have..])?;
        if n == 0 {
            return Ok(());
        }
        have += n;
        while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            s.write_all(ANSWER)?;
            buf.copy_within(end + 4..have, 0);
            have -= end + 4;
        }
        if have == buf.len() {
            return Ok(()); // a head larger than the buffer: not a floor's problem
        }
    }
}
