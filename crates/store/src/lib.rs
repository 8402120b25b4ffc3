//! berthd's state in SQLite: images, tags, repository digests and unpacked layers.
//!
//! One database file (`<data-root>/berth.db`) in WAL mode with `synchronous=FULL`: every committed
//! transaction survives a crash or power loss, and a `kill -9` at any moment leaves either the
//! state before a transaction or the state after it. The schema is versioned with `PRAGMA
//! user_version` and moved forward by the numbered migrations in [`MIGRATIONS`], each in its own
//! transaction; a database written by a newer berthd is refused rather than misread.
//!
//! Blobs and layer directories live on the filesystem (the content store and the layer store); the
//! database says which image holds which of them, so that the last user of a layer or blob can be
//! found when an image goes.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error(
        "state database `{path}` has schema version {found}, newer than this berthd supports ({supported}); \
         use a newer berthd"
    )]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },

    /// A unique column (a container's name) is taken.
    #[error("state database: `{0}` is already in use")]
    Conflict(String),

    #[error("state database: corrupt value in {what}: {detail}")]
    Corrupt { what: String, detail: String },
}

/// The schema, as forward migrations: `MIGRATIONS[n]` takes a database from version n to n+1.
pub const MIGRATIONS: &[&str] = &[
    // 1: images, their layers and blobs, tags, repository digests, unpacked layers.
    "CREATE TABLE images (
        id TEXT PRIMARY KEY,                -- the config digest: Docker's image ID
        manifest_digest TEXT NOT NULL,
        manifest_media_type TEXT NOT NULL,
        created TEXT,                       -- the config's `created`, RFC 3339
        size INTEGER NOT NULL,              -- bytes of the uncompressed layers
        os TEXT NOT NULL,
        architecture TEXT NOT NULL,
        variant TEXT,
        labels TEXT NOT NULL DEFAULT '{}',  -- the config's labels, JSON
        parent TEXT,                        -- the image this one was built from, if built here
        added_at INTEGER NOT NULL,          -- unix nanoseconds when it arrived
        last_tag_time INTEGER               -- unix nanoseconds of the last tag
     );
     CREATE TABLE image_layers (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        diff_id TEXT NOT NULL,
        blob_digest TEXT NOT NULL,
        media_type TEXT NOT NULL,
        blob_size INTEGER NOT NULL,
        PRIMARY KEY (image_id, position)
     );
     CREATE INDEX image_layers_diff_id ON image_layers(diff_id);
     CREATE TABLE image_blobs (
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        digest TEXT NOT NULL,
        PRIMARY KEY (image_id, digest)
     );
     CREATE INDEX image_blobs_digest ON image_blobs(digest);
     CREATE TABLE tags (
        name TEXT PRIMARY KEY,              -- normalized: docker.io/library/busybox:latest
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
     );
     CREATE INDEX tags_image ON tags(image_id);
     CREATE TABLE repo_digests (
        name TEXT NOT NULL,                 -- normalized repository: docker.io/library/busybox
        digest TEXT NOT NULL,               -- the manifest (or index) digest
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        PRIMARY KEY (name, digest)
     );
     CREATE INDEX repo_digests_image ON repo_digests(image_id);
     CREATE TABLE layers (
        diff_id TEXT PRIMARY KEY,           -- unpacked in <data-root>/layers/<algorithm>/<hex>
        size INTEGER NOT NULL,              -- bytes of the uncompressed tar
        added_at INTEGER NOT NULL
     );",
    // 2: whether a layer's files are known to be on disk (a filesystem sync ran after it was
    // written); layers that are not are extracted again from their blob after a crash.
    "ALTER TABLE layers ADD COLUMN synced INTEGER NOT NULL DEFAULT 1;",
    // 3: containers. The create body and the state are JSON documents owned by the engine;
    // the columns outside them are what lookups and references need.
    "CREATE TABLE containers (
        id TEXT PRIMARY KEY,                -- 64 hex digits
        name TEXT NOT NULL UNIQUE,          -- without the leading slash
        image_id TEXT NOT NULL,             -- the image's config digest (rmi refuses while used)
        created INTEGER NOT NULL,           -- unix nanoseconds
        config TEXT NOT NULL,               -- Docker's Config (merged with the image's), JSON
        host_config TEXT NOT NULL,          -- Docker's HostConfig, JSON
        state TEXT NOT NULL                 -- the engine's state record, JSON
     );
     CREATE INDEX containers_image ON containers(image_id);",
];

/// The schema version this build writes.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// One layer of an image, bottom first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLayer {
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
    /// The blob in the content store (compressed or not).
    pub blob_digest: String,
    pub media_type: String,
    pub blob_size: u64,
}

/// An image as the daemon knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    /// Config digest, `sha256:…`.
    pub id: String,
    pub manifest_digest: String,
    pub manifest_media_type: String,
    pub created: Option<String>,
    pub size: u64,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    /// JSON object.
    pub labels: String,
    pub parent: Option<String>,
    pub added_at: i64,
    pub last_tag_time: Option<i64>,
    pub layers: Vec<ImageLayer>,
    /// Every content-store blob the image holds: index, manifest, config, layers.
    pub blobs: Vec<String>,
}

/// A container as the engine records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub created: i64,
    pub config: String,
    pub host_config: String,
    pub state: String,
}

/// An unpacked layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRecord {
    pub diff_id: String,
    pub size: u64,
    pub added_at: i64,
    /// A filesystem sync ran after the layer was written.
    pub synced: bool,
}

/// The state database. Cheap operations under one connection; callers in async code call it
/// from blocking sections (each call is a short transaction).
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    /// A second connection for container records, with `synchronous = NORMAL`: in WAL mode its
    /// commits survive any crash of the process (they are in the WAL, which the OS holds), and
    /// only a power loss can take back the last ones — which the engine re-derives from its
    /// shims. It keeps an fsync off every container state change (see decision 0013).
    fast: Option<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, Error> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store {
            conn: Mutex::new(conn),
            fast: None,
        };
        store.migrate(&path.display().to_string())?;
        let fast = Connection::open(path)?;
        fast.busy_timeout(Duration::from_secs(10))?;
        fast.pragma_update(None, "synchronous", "NORMAL")?;
        fast.pragma_update(None, "foreign_keys", "ON")?;
        store.fast = Some(Mutex::new(fast));
        Ok(store)
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<Store, Error> {
        let conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let store = Store {
            conn: Mutex::new(conn),
            fast: None,
        };
        store.migrate(":memory:")?;
        Ok(store)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half transaction (rusqlite rolls back on
        // drop), so the connection is still good.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection for container records (the main one for in-memory databases).
    fn fast(&self) -> MutexGuard<'_, Connection> {
        match &self.fast {
            Some(c) => c.lock().unwrap_or_else(|e| e.into_inner()),
            None => self.conn(),
        }
    }

    fn migrate(&self, path: &str) -> Result<(), Error> {
        let mut conn = self.conn();
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let supported = schema_version();
        if found > supported {
            return Err(Error::TooNew {
                path: path.to_string(),
                found,
                supported,
            });
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", n as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema version of the open database.
    pub fn version(&self) -> Result<i64, Error> {
        Ok(self
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    // ---- images ----

    /// Records an image (replacing a previous record with the same ID), its layers and blobs.
    pub fn put_image(&self, img: &ImageRecord) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        put_image_tx(&tx, img)?;
        tx.commit()?;
        Ok(())
    }

    /// Records an image and points `tags` at it, and `repo_digests` (repository, digest), in one
    /// transaction. Returns the images that lost a tag to it.
    pub fn put_image_tagged(
        &self,
        img: &ImageRecord,
        tags: &[String],
        repo_digests: &[(String, String)],
        now: i64,
    ) -> Result<Vec<String>, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        put_image_tx(&tx, img)?;
        let mut previous = Vec::new();
        for t in tags {
            if let Some(p) = set_tag_tx(&tx, t, &img.id, now)? {
                previous.push(p);
            }
        }
        for (name, digest) in repo_digests {
            tx.execute(
                "INSERT OR REPLACE INTO repo_digests(name, digest, image_id) VALUES (?1, ?2, ?3)",
                params![name, digest, img.id],
            )?;
        }
        tx.commit()?;
        Ok(previous)
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>, Error> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?1"),
                [id],
                image_from_row,
            )
            .optional()?;
        match row {
            Some(mut img) => {
                fill_image(&conn, &mut img)?;
                Ok(Some(img))
            }
            None => Ok(None),
        }
    }

    /// Every image, oldest first.
    pub fn images(&self) -> Result<Vec<ImageRecord>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {IMAGE_COLUMNS} FROM images ORDER BY added_at, id"
        ))?;
        let mut images = stmt
            .query_map([], image_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        for img in &mut images {
            fill_image(&conn, img)?;
        }
        Ok(images)
    }

    /// Image IDs starting with `sha256:<prefix>` (or `<prefix>` when it names the algorithm).
    pub fn image_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let full = if prefix.contains(':') {
            prefix.to_string()
        } else {
            format!("sha256:{prefix}")
        };
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id FROM images WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id")?;
        let ids = stmt
            .query_map([&full], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// Removes an image with its tags and repository digests. Returns false if it was not there.
    pub fn delete_image(&self, id: &str) -> Result<bool, Error> {
        let conn = self.conn();
        Ok(conn.execute("DELETE FROM images WHERE id = ?1", [id])? > 0)
    }

    /// Images whose parent is `id` (built on it).
    pub fn children(&self, id: &str) -> Result<Vec<String>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM images WHERE parent = ?1")?;
        let ids = stmt
            .query_map([id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    // ---- tags ----

    /// Points `name` at `image_id`; returns the image it pointed at before, if another.
    pub fn set_tag(&self, name: &str, image_id: &str, now: i64) -> Result<Option<String>, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let previous = set_tag_tx(&tx, name, image_id, now)?;
        tx.commit()?;
        Ok(previous)
    }

    /// Removes a tag; returns the image it pointed at.
    pub fn remove_tag(&self, name: &str) -> Result<Option<String>, Error> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id: Option<String> = tx
            .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| r.get(0))
            .optional()?;
        tx.execute("DELETE FROM tags WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(id)
    }

    /// The image a tag points at.
    pub fn tag(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self
            .conn()
            .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| r.get(0))
            .optional()?)
    }

    /// Every (tag, image) pair, sorted by tag.
    pub fn tags(&self) -> Result<Vec<(String, String)>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, image_id FROM tags ORDER BY name")?;
        let tags = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(tags)
    }

    /// The tags of one image, sorted.
    pub fn tags_of(&self, image_id: &str) -> Result<Vec<String>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name FROM tags WHERE image_id = ?1 ORDER BY name")?;
        let tags = stmt
            .query_map([image_id], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(tags)
    }

    // ---- repository digests ----

    pub fn add_repo_digest(&self, name: &str, digest: &str, image_id: &str) -> Result<(), Error> {
        self.conn().execute(
            "INSERT OR REPLACE INTO repo_digests(name, digest, image_id) VALUES (?1, ?2, ?3)",
            params![name, digest, image_id],
        )?;
        Ok(())
    }

    /// The image known as `name@digest`.
    pub fn repo_digest(&self, name: &str, digest: &str) -> Result<Option<String>, Error> {
        Ok(self
            .conn()
            .query_row(
                "SELECT image_id FROM repo_digests WHERE name = ?1 AND digest = ?2",
                [name, digest],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// `(repository, digest)` pairs of one image, sorted.
    pub fn repo_digests_of(&self, image_id: &str) -> Result<Vec<(String, String)>, Error> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT name, digest FROM repo_digests WHERE image_id = ?1 ORDER BY name, digest")?;
        let v = stmt
            .query_map([image_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    /// Removes the repository digests of `image_id` in repository `name`.
    pub fn remove_repo_digests(&self, name: &str, image_id: &str) -> Result<usize, Error> {
        Ok(self.conn().execute(
            "DELETE FROM repo_digests WHERE name = ?1 AND image_id = ?2",
            [name, image_id],
        )?)
    }

    /// Removes one repository digest of an image; returns whether it was there.
    pub fn remove_repo_digests_one(&self, name: &str, digest: &str, image_id: &str) -> Result<bool, Error> {
        Ok(self.conn().execute(
            "DELETE FROM repo_digests WHERE name = ?1 AND digest = ?2 AND image_id = ?3",
            [name, digest, image_id],
        )? > 0)
    }

    // ---- layers ----

    pub fn put_layer(&self, layer: &LayerRecord) -> Result<(), Error> {
        self.conn().execute(
            "INSERT OR REPLACE INTO layers(diff_id, size, added_at, synced) VALUES (?1, ?2, ?3, ?4)",
            params![layer.diff_id, layer.size as i64, layer.added_at, layer.synced],
        )?;
        Ok(())
    }

    pub fn layer(&self, diff_id: &str) -> Result<Option<LayerRecord>, Error> {
        Ok(self
            .conn()
            .query_row(
                "SELECT diff_id, size, added_at, synced FROM layers WHERE diff_id = ?1",
                [diff_id],
                layer_from_row,
            )
            .optional()?)
    }

    pub fn layers(&self) -> Result<Vec<LayerRecord>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT diff_id, size, added_at, synced FROM layers ORDER BY diff_id")?;
        let v = stmt
            .query_map([], layer_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    /// Marks every layer written at or before `added_at` (ns) as synced; returns how many.
    pub fn mark_layers_synced(&self, added_at: i64) -> Result<usize, Error> {
        Ok(self.conn().execute(
            "UPDATE layers SET synced = 1 WHERE synced = 0 AND added_at <= ?1",
            [added_at],
        )?)
    }

    /// A blob that holds the layer (any image's), with its media type.
    pub fn layer_blob(&self, diff_id: &str) -> Result<Option<(String, String)>, Error> {
        Ok(self
            .conn()
            .query_row(
                "SELECT blob_digest, media_type FROM image_layers WHERE diff_id = ?1 LIMIT 1",
                [diff_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn delete_layer(&self, diff_id: &str) -> Result<bool, Error> {
        Ok(self
            .conn()
            .execute("DELETE FROM layers WHERE diff_id = ?1", [diff_id])?
            > 0)
    }

    /// Unpacked layers no image holds.
    pub fn unreferenced_layers(&self) -> Result<Vec<String>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT diff_id FROM layers l WHERE NOT EXISTS
               (SELECT 1 FROM image_layers il WHERE il.diff_id = l.diff_id) ORDER BY diff_id",
        )?;
        let v = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    /// How many images hold each layer.
    pub fn layer_users(&self, diff_id: &str) -> Result<u64, Error> {
        let n: i64 = self.conn().query_row(
            "SELECT count(DISTINCT image_id) FROM image_layers WHERE diff_id = ?1",
            [diff_id],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    // ---- containers ----

    /// Records a new container; a taken name or ID is [`Error::Conflict`].
    pub fn insert_container(&self, c: &ContainerRecord) -> Result<(), Error> {
        let r = self.fast().execute(
            "INSERT INTO containers(id, name, image_id, created, config, host_config, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                c.id,
                c.name,
                c.image_id,
                c.created,
                c.config,
                c.host_config,
                c.state
            ],
        );
        match r {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(Error::Conflict(c.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a container's mutable columns (name, config, host config, state).
    pub fn update_container(&self, c: &ContainerRecord) -> Result<(), Error> {
        let r = self.fast().execute(
            "UPDATE containers SET name = ?2, config = ?3, host_config = ?4, state = ?5 WHERE id = ?1",
            params![c.id, c.name, c.config, c.host_config, c.state],
        );
        match r {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(Error::Conflict(c.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Only the state column.
    pub fn set_container_state(&self, id: &str, state: &str) -> Result<(), Error> {
        self.fast().execute(
            "UPDATE containers SET state = ?2 WHERE id = ?1",
            params![id, state],
        )?;
        Ok(())
    }

    pub fn delete_container(&self, id: &str) -> Result<bool, Error> {
        Ok(self
            .fast()
            .execute("DELETE FROM containers WHERE id = ?1", [id])?
            > 0)
    }

    pub fn containers(&self) -> Result<Vec<ContainerRecord>, Error> {
        let conn = self.fast();
        let mut stmt = conn.prepare(
            "SELECT id, name, image_id, created, config, host_config, state FROM containers
             ORDER BY created",
        )?;
        let v = stmt
            .query_map([], |r| {
                Ok(ContainerRecord {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    image_id: r.get(2)?,
                    created: r.get(3)?,
                    config: r.get(4)?,
                    host_config: r.get(5)?,
                    state: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    /// The containers made from an image: (ID, state JSON).
    pub fn containers_of_image(&self, image_id: &str) -> Result<Vec<(String, String)>, Error> {
        let conn = self.fast();
        let mut stmt =
            conn.prepare_cached("SELECT id, state FROM containers WHERE image_id = ?1 ORDER BY created")?;
        let v = stmt
            .query_map([image_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(v)
    }

    /// Every blob some image holds.
    pub fn referenced_blobs(&self) -> Result<HashSet<String>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT DISTINCT digest FROM image_blobs")?;
        let v = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<HashSet<_>, _>>()?;
        Ok(v)
    }
}

const IMAGE_COLUMNS: &str = "id, manifest_digest, manifest_media_type, created, size, os, architecture, \
     variant, labels, parent, added_at, last_tag_time";

fn image_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImageRecord> {
    Ok(ImageRecord {
        id: r.get(0)?,
        manifest_digest: r.get(1)?,
        manifest_media_type: r.get(2)?,
        created: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        os: r.get(5)?,
        architecture: r.get(6)?,
        variant: r.get(7)?,
        labels: r.get(8)?,
        parent: r.get(9)?,
        added_at: r.get(10)?,
        last_tag_time: r.get(11)?,
        layers: Vec::new(),
        blobs: Vec::new(),
    })
}

fn layer_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LayerRecord> {
    Ok(LayerRecord {
        diff_id: r.get(0)?,
        size: r.get::<_, i64>(1)? as u64,
        added_at: r.get(2)?,
        synced: r.get(3)?,
    })
}

fn fill_image(conn: &Connection, img: &mut ImageRecord) -> Result<(), Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT diff_id, blob_digest, media_type, blob_size FROM image_layers
         WHERE image_id = ?1 ORDER BY position",
    )?;
    img.layers = stmt
        .query_map([&img.id], |r| {
            Ok(ImageLayer {
                diff_id: r.get(0)?,
                blob_digest: r.get(1)?,
                media_type: r.get(2)?,
                blob_size: r.get::<_, i64>(3)? as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt =
        conn.prepare_cached("SELECT digest FROM image_blobs WHERE image_id = ?1 ORDER BY digest")?;
    img.blobs = stmt
        .query_map([&img.id], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(())
}

fn put_image_tx(tx: &Transaction<'_>, img: &ImageRecord) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO images(id, manifest_digest, manifest_media_type, created, size, os, architecture,
                            variant, labels, parent, added_at, last_tag_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest,
            manifest_media_type = excluded.manifest_media_type, created = excluded.created,
            size = excluded.size, os = excluded.os, architecture = excluded.architecture,
            variant = excluded.variant, labels = excluded.labels,
            parent = coalesce(excluded.parent, images.parent)",
        params![
            img.id,
            img.manifest_digest,
            img.manifest_media_type,
            img.created,
            img.size as i64,
            img.os,
            img.architecture,
            img.variant,
            img.labels,
            img.parent,
            img.added_at,
            img.last_tag_time,
        ],
    )?;
    tx.execute("DELETE FROM image_layers WHERE image_id = ?1", [&img.id])?;
    for (i, l) in img.layers.iter().enumerate() {
        tx.execute(
            "INSERT INTO image_layers(image_id, position, diff_id, blob_digest, media_type, blob_size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                img.id,
                i as i64,
                l.diff_id,
                l.blob_digest,
                l.media_type,
                l.blob_size as i64
            ],
        )?;
    }
    // Blobs are only ever added: an image re-pulled through another manifest keeps both.
    for b in &img.blobs {
        tx.execute(
            "INSERT OR IGNORE INTO image_blobs(image_id, digest) VALUES (?1, ?2)",
            params![img.id, b],
        )?;
    }
    Ok(())
}

fn set_tag_tx(tx: &Transaction<'_>, name: &str, image_id: &str, now: i64) -> Result<Option<String>, Error> {
    let previous: Option<String> = tx
        .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| r.get(0))
        .optional()?;
    tx.execute(
        "INSERT OR REPLACE INTO tags(name, image_id) VALUES (?1, ?2)",
        params![name, image_id],
    )?;
    tx.execute(
        "UPDATE images SET last_tag_time = ?2 WHERE id = ?1",
        params![image_id, now],
    )?;
    Ok(previous.filter(|p| p != image_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, layers: &[&str]) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            manifest_digest: format!("sha256:m{id}"),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            created: Some("2026-11-22T00:00:00Z".into()),
            size: 10,
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
            labels: "{}".into(),
            parent: None,
            added_at: 1,
            last_tag_time: None,
            layers: layers
                .iter()
                .map(|d| ImageLayer {
                    diff_id: d.to_string(),
                    blob_digest: format!("b{d}"),
                    media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                    blob_size: 5,
                })
                .collect(),
            blobs: layers.iter().map(|d| format!("b{d}")).collect(),
        }
    }

    #[test]
    fn migrations_run_once_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.version().unwrap(), schema_version());
            s.put_image(&image("sha256:a", &["l1"])).unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.version().unwrap(), schema_version());
        assert!(s.image("sha256:a").unwrap().is_some());
    }

    #[test]
    fn containers_round_trip_and_unique_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        let c = ContainerRecord {
            id: "a".repeat(64),
            name: "web".into(),
            image_id: "sha256:i".into(),
            created: 7,
            config: "{}".into(),
            host_config: "{}".into(),
            state: r#"{"Status":"created"}"#.into(),
        };
        {
            let s = Store::open(&path).unwrap();
            s.insert_container(&c).unwrap();
            let dup = ContainerRecord {
                id: "b".repeat(64),
                ..c.clone()
            };
            assert!(matches!(s.insert_container(&dup), Err(Error::Conflict(n)) if n == "web"));
            s.set_container_state(&c.id, r#"{"Status":"running"}"#).unwrap();
        }
        let s = Store::open(&path).unwrap();
        let all = s.containers().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].state, r#"{"Status":"running"}"#);
        assert_eq!(s.containers_of_image("sha256:i").unwrap()[0].0, c.id);
        let renamed = ContainerRecord {
            name: "web2".into(),
            ..all[0].clone()
        };
        s.update_container(&renamed).unwrap();
        assert_eq!(s.containers().unwrap()[0].name, "web2");
        assert!(s.delete_container(&c.id).unwrap());
        assert!(s.containers().unwrap().is_empty());
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "user_version", 999).unwrap();
        }
        let err = Store::open(&path).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("schema version 999"), "{msg}");
        assert!(msg.contains("berth.db"), "{msg}");
    }

    #[test]
    fn image_round_trip_with_layers_tags_and_digests() {
        let s = Store::open_in_memory().unwrap();
        let img = image("sha256:aaa", &["l1", "l2"]);
        let prev = s
            .put_image_tagged(
                &img,
                &["docker.io/library/busybox:latest".into()],
                &[("docker.io/library/busybox".into(), "sha256:idx".into())],
                7,
            )
            .unwrap();
        assert!(prev.is_empty());
        let got = s.image("sha256:aaa").unwrap().unwrap();
        assert_eq!(got.layers, img.layers);
        assert_eq!(got.last_tag_time, Some(7));
        assert_eq!(
            s.tag("docker.io/library/busybox:latest").unwrap().as_deref(),
            Some("sha256:aaa")
        );
        assert_eq!(
            s.repo_digest("docker.io/library/busybox", "sha256:idx")
                .unwrap()
                .as_deref(),
            Some("sha256:aaa")
        );
        // Retagging to another image reports the previous one.
        s.put_image(&image("sha256:bbb", &["l1"])).unwrap();
        let prev = s
            .set_tag("docker.io/library/busybox:latest", "sha256:bbb", 8)
            .unwrap();
        assert_eq!(prev.as_deref(), Some("sha256:aaa"));
        assert!(s.tags_of("sha256:aaa").unwrap().is_empty());
    }

    #[test]
    fn deleting_an_image_cascades_and_frees_layers() {
        let s = Store::open_in_memory().unwrap();
        s.put_image(&image("sha256:a", &["l1", "l2"])).unwrap();
        s.put_image(&image("sha256:b", &["l1"])).unwrap();
        for l in ["l1", "l2"] {
            s.put_layer(&LayerRecord {
                diff_id: l.into(),
                size: 1,
                added_at: 0,
                synced: true,
            })
            .unwrap();
        }
        s.set_tag("x:latest", "sha256:a", 1).unwrap();
        assert!(s.unreferenced_layers().unwrap().is_empty());
        assert_eq!(s.layer_users("l1").unwrap(), 2);
        assert!(s.delete_image("sha256:a").unwrap());
        assert_eq!(s.unreferenced_layers().unwrap(), vec!["l2".to_string()]);
        assert!(s.tag("x:latest").unwrap().is_none());
        let blobs = s.referenced_blobs().unwrap();
        assert!(blobs.contains("bl1") && !blobs.contains("bl2"));
        assert!(!s.delete_image("sha256:a").unwrap());
    }

    #[test]
    fn a_version_1_database_moves_forward_and_layers_count_as_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute(
                "INSERT INTO layers(diff_id, size, added_at) VALUES ('l', 5, 1)",
                [],
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.version().unwrap(), schema_version());
        assert!(s.layer("l").unwrap().unwrap().synced);
        s.put_layer(&LayerRecord {
            diff_id: "m".into(),
            size: 1,
            added_at: 10,
            synced: false,
        })
        .unwrap();
        s.put_layer(&LayerRecord {
            diff_id: "n".into(),
            size: 1,
            added_at: 20,
            synced: false,
        })
        .unwrap();
        assert_eq!(s.mark_layers_synced(15).unwrap(), 1);
        assert!(s.layer("m").unwrap().unwrap().synced);
        assert!(!s.layer("n").unwrap().unwrap().synced);
    }

    #[test]
    fn id_prefixes() {
        let s = Store::open_in_memory().unwrap();
        s.put_image(&image("sha256:abc1", &[])).unwrap();
        s.put_image(&image("sha256:abc2", &[])).unwrap();
        assert_eq!(s.image_ids_with_prefix("abc").unwrap().len(), 2);
        assert_eq!(
            s.image_ids_with_prefix("sha256:abc1").unwrap(),
            vec!["sha256:abc1"]
        );
        assert!(s.image_ids_with_prefix("abd").unwrap().is_empty());
    }

    #[test]
    fn rewriting_an_image_keeps_blobs_and_parent() {
        let s = Store::open_in_memory().unwrap();
        let mut a = image("sha256:a", &["l1"]);
        a.parent = Some("sha256:p".into());
        s.put_image(&a).unwrap();
        let mut a2 = image("sha256:a", &["l1"]);
        a2.blobs.push("sha256:other-manifest".into());
        s.put_image(&a2).unwrap();
        let got = s.image("sha256:a").unwrap().unwrap();
        assert_eq!(got.parent.as_deref(), Some("sha256:p"));
        assert!(got.blobs.contains(&"sha256:other-manifest".to_string()));
        assert_eq!(s.children("sha256:p").unwrap(), vec!["sha256:a"]);
    }
}
