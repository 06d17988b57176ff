//! The case state machine. STUB.
