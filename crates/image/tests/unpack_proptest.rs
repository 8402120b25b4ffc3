//! Random trees → tar (entries in random order, parents possibly after their children) → unpack →
//! the same tree: kinds, contents, modes, owners, times and hard-link groups.

mod unpack_util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use berth_image::unpack::{unpack, Compression};
use proptest::prelude::*;
use tar::EntryType;
use unpack_util::{assert_same_tree, is_root, sha256, snapshot, Layer, Node};

#[derive(Debug, Clone)]
enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    /// A hard link to the n-th file (modulo the number of files).
    Hardlink(usize),
}

#[derive(Debug, Clone)]
struct Spec {
    path: Vec<String>,
    kind: Kind,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("c".to_owned()),
        Just("with space".to_owned()),
        Just("ünïcödé".to_owned()),
        Just(".hidden".to_owned()),
        Just("x".repeat(120)),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Dir),
        4 => proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Kind::File),
        1 => "[a-z./]{1,20}".prop_map(Kind::Symlink),
        1 => (0usize..100).prop_map(Kind::Hardlink),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    // Not as root, every mode must leave the owner able to read what the snapshot reads; read-only
    // directories are still covered (their modes are applied after their content).
    let modes: Vec<u32> = if is_root() {
        vec![
            0o755, 0o700, 0o644, 0o600, 0o1777, 0o2755, 0o4755, 0o555, 0o444, 0o000,
        ]
    } else {
        vec![
            0o755, 0o700, 0o644, 0o600, 0o1777, 0o2755, 0o4755, 0o555, 0o444, 0o500,
        ]
    };
    (
        proptest::collection::vec(component(), 1..4),
        kind(),
        proptest::sample::select(modes),
        0u32..70_000,
        0u32..70_000,
        0u64..4_000_000_000,
    )
        .prop_map(|(path, kind, mode, uid, gid, mtime)| {
            // Unprivileged, a directory needs its owner's x bit to be walked at all.
            let mode = if !is_root() && matches!(kind, Kind::Dir) {
                mode | 0o500
            } else {
                mode
            };
            Spec {
                path,
                kind,
                mode,
                uid,
                gid,
                mtime,
            }
        })
}

/// Gives the owner rwx on every directory again, so the temporary directory can be removed
/// when not running as root.
fn make_removable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700));
            make_removable(&p);
        }
    }
}

/// Turns random specs into a consistent tree: the first spec for a path wins, every ancestor of a
/// path is a directory (made with default metadata when no spec names it), nothing lies under a
/// non-directory.
fn normalise(specs: Vec<Spec>) -> Vec<Spec> {
    let mut out: BTreeMap<Vec<String>, Spec> = BTreeMap::new();
    for s in specs {
        let ancestors_ok = (1..s.path.len()).all(|i| match out.get(&s.path[..i]) {
            Some(a) => matches!(a.kind, Kind::Dir),
            None => true,
        });
        let clash = out.contains_key(&s.path);
        let parent_of_existing = !matches!(s.kind, Kind::Dir)
            && out
                .keys()
                .any(|k| k.len() > s.path.len() && k.starts_with(&s.path));
        if !ancestors_ok || clash || parent_of_existing {
            continue;
        }
        for i in 1..s.path.len() {
            out.entry(s.path[..i].to_vec()).or_insert(Spec {
                path: s.path[..i].to_vec(),
                kind: Kind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 1_000_000_000,
            });
        }
        out.insert(s.path.clone(), s);
    }
    // Hard links need a file to point at; without one they become files.
    let files: Vec<Vec<String>> = out
        .values()
        .filter(|s| matches!(s.kind, Kind::File(_)))
        .map(|s| s.path.clone())
        .collect();
    out.into_values()
        .map(|mut s| {
            if let Kind::Hardlink(n) = s.kind {
                if files.is_empty() {
                    s.kind = Kind::File(Vec::new());
                } else {
                    s.kind = Kind::Hardlink(n % files.len());
                }
            }
            s
        })
        .collect()
}

fn join(p: &[String]) -> String {
    p.join("/")
}

/// The tar, entries in `order` (a permutation), hard links moved after their targets.
fn build(specs: &[Spec], order: &[usize], files: &[usize]) -> Vec<u8> {
    let mut l = Layer::new();
    let mut written = BTreeSet::new();
    let mut pending: Vec<usize> = order.to_vec();
    while !pending.is_empty() {
        let mut rest = Vec::new();
        for &i in &pending {
            let s = &specs[i];
            let name = join(&s.path);
            let (kind, link) = match &s.kind {
                Kind::Dir => (EntryType::Directory, None),
                Kind::File(_) => (EntryType::Regular, None),
                Kind::Symlink(t) => (EntryType::Symlink, Some(t.clone())),
                Kind::Hardlink(n) => {
                    if !written.contains(&files[*n]) {
                        rest.push(i);
                        continue;
                    }
                    (EntryType::Link, Some(join(&specs[files[*n]].path)))
                }
            };
            let name = if kind == EntryType::Directory {
                format!("{name}/")
            } else {
                name
            };
            if let Some(t) = &link {
                if t.len() > 100 {
                    l.pax(&[("linkpath", t.as_bytes())]);
                }
            }
            let mut h = l.header(name.as_bytes(), kind, s.mode);
            h.set_uid(s.uid.into());
            h.set_gid(s.gid.into());
            h.set_mtime(s.mtime);
            if let Some(t) = &link {
                if t.len() <= 100 {
                    h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
                }
            }
            let data: &[u8] = match &s.kind {
                Kind::File(d) => d,
                _ => b"",
            };
            l.append(h, data);
            written.insert(i);
        }
        pending = rest;
    }
    l.finish()
}

/// What `snapshot` should find.
fn expected(specs: &[Spec], files: &[usize], root: bool) -> BTreeMap<String, Node> {
    // SAFETY: geteuid/getegid have no preconditions.
    let (me, my_group) = unsafe { (libc::geteuid(), libc::getegid()) };
    let owner = |s: &Spec| if root { (s.uid, s.gid) } else { (me, my_group) };
    // Hard-link groups: the file and its links; the group is named by the path met first in the
    // snapshot's walk (component-wise order).
    let mut groups: BTreeMap<usize, Vec<&[String]>> = BTreeMap::new();
    for s in specs {
        if let Kind::Hardlink(n) = s.kind {
            groups
                .entry(files[n])
                .or_insert_with(|| vec![&specs[files[n]].path])
                .push(&s.path);
        }
    }
    let group_name = |file: usize| {
        groups.get(&file).map(|g| {
            join(
                g.iter()
                    .min_by(|a, b| Path::new(&join(a)).cmp(Path::new(&join(b))))
                    .unwrap(),
            )
        })
    };
    let mut out = BTreeMap::new();
    for (i, s) in specs.iter().enumerate() {
        let (uid, gid) = owner(s);
        let node = match &s.kind {
            Kind::Dir => Node {
                kind: "dir",
                mode: s.mode,
                uid,
                gid,
                mtime: s.mtime as i64,
                data: String::new(),
                xattrs: BTreeMap::new(),
                link_group: None,
            },
            Kind::File(d) => Node {
                kind: "file",
                mode: s.mode,
                uid,
                gid,
                mtime: s.mtime as i64,
                data: format!("{} ({} bytes)", sha256(d), d.len()),
                xattrs: BTreeMap::new(),
                link_group: group_name(i),
            },
            Kind::Symlink(t) => Node {
                kind: "symlink",
                mode: 0o777,
                uid,
                gid,
                mtime: s.mtime as i64,
                data: t.clone(),
                xattrs: BTreeMap::new(),
                link_group: None,
            },
            Kind::Hardlink(n) => {
                let target = &specs[files[*n]];
                let Kind::File(d) = &target.kind else {
                    unreachable!()
                };
                let (uid, gid) = owner(target);
                Node {
                    kind: "file",
                    mode: target.mode,
                    uid,
                    gid,
                    mtime: target.mtime as i64,
                    data: format!("{} ({} bytes)", sha256(d), d.len()),
                    xattrs: BTreeMap::new(),
                    link_group: group_name(files[*n]),
                }
            }
        };
        out.insert(join(&s.path), node);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_round_trip(specs in proptest::collection::vec(spec(), 1..40), seed in any::<u64>(), gz in any::<bool>()) {
        let specs = normalise(specs);
        let files: Vec<usize> = specs.iter().enumerate().filter(|(_, s)| matches!(s.kind, Kind::File(_))).map(|(i, _)| i).collect();
        // A deterministic shuffle from the seed.
        let mut order: Vec<usize> = (0..specs.len()).collect();
        let mut x = seed | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let tar = build(&specs, &order, &files);
        let input = if gz { unpack_util::gzip(&tar) } else { tar.clone() };
        let base = tempfile::tempdir().unwrap();
        let dest = base.path().join("layer");
        let stats = unpack(&input[..], Compression::Auto, &dest).unwrap();
        prop_assert_eq!(stats.diff_id.to_string(), sha256(&tar));
        let got = snapshot(&dest);
        if !is_root() {
            make_removable(&dest);
        }
        assert_same_tree(&got, &expected(&specs, &files, is_root()));
    }
}
