//! Loopback ports for servers a test starts.

use std::net::TcpListener;

/// A loopback port that was free a moment ago, with nothing listening on
/// it. Another process could take it before the test binds it, which is
/// unlikely enough for tests.
pub fn free_port() -> u16 {
    try_free_port().expect("a free loopback port")
}

/// [`free_port`], or why there is none.
pub fn try_free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
