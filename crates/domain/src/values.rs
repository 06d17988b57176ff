//! Validating value types. STUB: signatures fixed, bodies to be written.
