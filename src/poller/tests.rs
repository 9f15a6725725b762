//! The poller's unit tests.

use super::*;
use std::net::{TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};

#[test]
fn a_connection_dropped_by_a_panic_frees_its_slot_and_the_open_count() {
    let poller = Arc::new(Poller::new().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let _ = poller.add(Conn::new(server), &Config::default());
    assert_eq!(poller.open(), 1);
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    client.write_all(request).unwrap();
    let Ready::Conn(conn) = poller.wait(Duration::from_secs(5), false) else {
        panic!("no ready connection");
    };
    // A bug of ours unwinding through the worker that holds it, before park or close.
    let unwound = catch_unwind(AssertUnwindSafe(move || {
        let _held = conn;
        panic!("a bug while serving");
    }));
    assert!(unwound.is_err());
    assert_eq!(poller.open(), 0, "the open count leaked");
    assert_eq!(poller.lock().free, vec![0], "the table slot leaked");
}
