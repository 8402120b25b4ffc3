//! Finding an image by what a user typed, with dockerd's rules (daemon/images GetImage): a full ID,
//! a name with tag or digest, then a truncated ID.

use berth_image::reference::{parse_any_reference, ImageRef, Reference};
use berth_store::ImageRecord;

use super::Images;
use crate::error::{ApiError, Result};

/// How an image was named: dockerd deletes differently when given an ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Id,
    Reference(Reference),
}

impl Images {
    /// The image `name` refers to, or dockerd's "No such image" error.
    pub fn lookup(&self, name: &str) -> Result<ImageRecord> {
        self.lookup_named(name).map(|(img, _)| img)
    }

    /// As [`Images::lookup`], also saying whether `name` was an ID or a reference.
    pub fn lookup_named(&self, name: &str) -> Result<(ImageRecord, Named)> {
        let not_found = || ApiError::no_such_image(name);
        let parsed = parse_any_reference(name).map_err(|_| not_found())?;
        match parsed {
            ImageRef::Id(digest) => {
                let img = self.store.image(digest.as_str())?.ok_or_else(not_found)?;
                Ok((img, Named::Id))
            }
            ImageRef::Named { reference, id_prefix } => {
                let found = if let Some(d) = reference.digest() {
                    self.store.repo_digest(&reference.name(), d.as_str())?
                } else {
                    let tagged = reference.clone().with_default_tag();
                    self.store.tag(&tagged.to_string())?
                };
                if let Some(id) = found {
                    let img = self.store.image(&id)?.ok_or_else(not_found)?;
                    return Ok((img, Named::Reference(reference.with_default_tag())));
                }
                if let Some(prefix) = id_prefix {
                    let ids = self.store.image_ids_with_prefix(&prefix)?;
                    if ids.len() == 1 {
                        let img = self.store.image(&ids[0])?.ok_or_else(not_found)?;
                        return Ok((img, Named::Id));
                    }
                }
                Err(not_found())
            }
        }
    }
}
