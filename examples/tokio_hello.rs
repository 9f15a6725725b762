//! The async comparison for `make bench`'s throughput mode: a tokio (multi-threaded runtime)
//! HTTP/1.1 keep-alive server answering every request like hello does, with httparse. It does less
//! than tinyfc (no lifecycle, no FC log lines), so matching it is a fair bar. With `FC_LINES=1` it
//! also prints the two `FC Invoke Start/End RequestId:` lines per request that an FC runtime must,
//! to show what those two writes cost (README "Benchmarks"). A request for `/sleep/N` is answered
//! after a blocking N ms sleep run with `tokio::task::spawn_blocking` (a blocking database call,
//! as tokio's documentation says to run one): the benchmark's blocking-handler case.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\nx-fc-status: 200\r\ncontent-length: 13\r\n\r\nHello, World!";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("FC_SERVER_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(9000);
    let fc_lines = std::env::var_os("FC_LINES").is_some_and(|v| v == "1");
    let listener = TcpListener::bind(("0.0.0.0", port)).await?;
    println!(
        "tinyfc listening on 0.0.0.0:{}",
        listener.local_addr()?.port()
    );
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream, fc_lines));
    }
}

async fn serve(mut s: TcpStream, fc_lines: bool) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut have = 0;
    loop {
        let n = s.read(&mut buf[have..]).await?;
        if n == 0 {
            return Ok(());
        }
        have += n;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[..have]) {
                Ok(httparse::Status::Complete(len)) => {
                    let body: usize = req
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                        .unwrap_or(0);
                    if have < len + body {
                        break; // the body is still arriving
                    }
                    let sleep_ms = req
                        .path
                        .and_then(|p| p.strip_prefix("/sleep/"))
                        .and_then(|ms| ms.parse::<u64>().ok());
                    if fc_lines {
                        let id = req
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case("x-fc-request-id"))
                            .map(|h| String::from_utf8_lossy(h.value).into_owned())
                            .unwrap_or_default();
                        println!("FC Invoke Start RequestId: {id}");
                        println!("FC Invoke End RequestId: {id}");
                    }
                    match sleep_ms {
                        Some(ms) => {
                            let slept = std::time::Duration::from_millis(ms);
                            tokio::task::spawn_blocking(move || std::thread::sleep(slept)).await?;
                            let text = format!("slept {ms}");
                            let head = format!("HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\nx-fc-status: 200\r\ncontent-length: {}\r\n\r\n", text.len());
                            s.write_all((head + &text).as_bytes()).await?;
                        }
                        None => s.write_all(ANSWER).await?,
                    }
                    buf.copy_within(len + body..have, 0);
                    have -= len + body;
                }
                Ok(httparse::Status::Partial) if have < buf.len() => break,
                _ => return Ok(()),
            }
        }
    }
}
