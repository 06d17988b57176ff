//! Loopback ports for servers a test starts.

use std::net::TcpListener;

/// A loopback port that was free a moment ago, with nothing listening on
/// it. Another process could take it before the test binds it, which is
/// unlikely enough for tests.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}
