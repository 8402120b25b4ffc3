//! Registry client (being written).
