//! Images: references as Docker parses them, digests, OCI and Docker manifests, the content store and
//! layer unpacking. No networking here (the registry client comes with its own module).

pub mod archive;
pub mod digest;
pub mod manifest;
pub mod reference;
pub mod snapshot;
pub mod store;
pub mod unpack;
