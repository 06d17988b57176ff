//! The complaints policy as data. STUB.
