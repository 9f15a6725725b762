//! FC's published contract (issue 22): connections kept as FC pools them, deadlines that never cut
//! a call FC still runs, the health path, bodies bounded by the function's memory, one initializer
//! run at a time across lives.

mod common;

use std::thread;
use std::time::Duration;

use common::*;

/// FC keeps its connections to the function open and reuses them; a POST on a connection the
/// server closed while idle is a 502 for FC's caller ("Process exited unexpectedly before
/// completing request"). Past FC's 60 s of old default: 75 s idle, then the next POST.
#[test]
fn a_keep_alive_connection_idle_for_75_s_still_serves_the_next_post() {
    let f = Function::start("probe", &[]);
    let mut conn = f.connect();
    let post = |conn: &mut Connection| conn.request("POST", "/invoke", &[], b"e").unwrap();
    assert_eq!(post(&mut conn).status, 200);
    thread::sleep(Duration::from_secs(75));
    assert_eq!(post(&mut conn).status, 200, "{}", f.stdout());
}
