//! `spec [--rootless] [--bundle DIR]`: write a starting config.json.

use std::path::Path;

use crate::error::{Error, Result};

pub fn spec(bundle: &Path, rootless: bool) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::msg(format!(
            "`{}` exists: remove it first",
            path.display()
        )));
    }
    let v = berth_oci::defaults::spec(rootless);
    let text = serde_json::to_string_pretty(&v).map_err(|e| Error::msg(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io("write", path.display(), e))
}
