//! OCI runtime-spec types (config.json and state) and their validation.

pub mod defaults;
pub mod spec;
pub mod state;
pub mod validate;

pub use spec::*;
pub use state::{State, Status};

/// The runtime-spec version this crate implements.
pub const OCI_VERSION: &str = "1.2.0";
