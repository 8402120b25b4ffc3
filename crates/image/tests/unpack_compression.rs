//! Compression detection, the diff ID, and broken streams.

mod unpack_util;

use std::fs;
use std::io::{self, Read};

use berth_image::unpack::{unpack, Compression, UnpackError};
use unpack_util::{assert_same_tree, gzip, list, sha256, snapshot, Layer};

fn sample() -> Vec<u8> {
    let mut l = Layer::new();
    l.dir("etc/", 0o755)
        .file("etc/hostname", 0o644, b"berth\n")
        .symlink("etc/localtime", "/usr/share/zoneinfo/UTC");
    l.dir("usr/", 0o755)
        .dir("usr/lib/", 0o755)
        .dir("usr/share/", 0o755)
        .dir("usr/share/doc/", 0o755);
    let big: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i % 251) as u8 ^ (i >> 12) as u8)
        .collect();
    l.file("usr/lib/big.so", 0o755, &big);
    for i in 0..500 {
        l.file(
            &format!("usr/share/doc/f{i}"),
            0o644,
            format!("doc {i}\n").as_bytes(),
        );
    }
    l.hardlink("usr/lib/big2.so", "usr/lib/big.so");
    l.finish()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

#[test]
fn plain_gzip_zstd_give_the_same_tree_and_diff_id() {
    let tar = sample();
    let base = tempfile::tempdir().unwrap();
    let mut trees = Vec::new();
    let inputs = [
        ("plain-auto", tar.clone(), Compression::Auto, Compression::None),
        ("plain", tar.clone(), Compression::None, Compression::None),
        ("gzip-auto", gzip(&tar), Compression::Auto, Compression::Gzip),
        ("gzip", gzip(&tar), Compression::Gzip, Compression::Gzip),
        ("zstd-auto", zstd(&tar), Compression::Auto, Compression::Zstd),
        ("zstd", zstd(&tar), Compression::Zstd, Compression::Zstd),
    ];
    for (name, input, given, found) in inputs {
        let dest = base.path().join(name);
        let stats = unpack(&input[..], given, &dest).unwrap();
        assert_eq!(stats.diff_id.to_string(), sha256(&tar), "{name}");
        assert_eq!(stats.size, tar.len() as u64, "{name}");
        assert_eq!(stats.compressed_size, input.len() as u64, "{name}");
        assert_eq!(stats.compression, found, "{name}");
        assert_eq!(stats.entries, 509, "{name}");
        trees.push(snapshot(&dest));
    }
    for t in &trees[1..] {
        assert_same_tree(t, &trees[0]);
    }
}

#[test]
fn multi_member_gzip() {
    let tar = sample();
    let (a, b) = tar.split_at(tar.len() / 3);
    let mut input = gzip(a);
    input.extend(gzip(b));
    let base = tempfile::tempdir().unwrap();
    let stats = unpack(&input[..], Compression::Auto, &base.path().join("l")).unwrap();
    assert_eq!(stats.diff_id.to_string(), sha256(&tar));
    assert_eq!(fs::read(base.path().join("l/etc/hostname")).unwrap(), b"berth\n");
}

#[test]
fn bytes_after_end_of_archive_count_in_the_diff_id() {
    // GNU tar pads to a 10 KiB record; all of it is part of the blob Docker hashes.
    let mut tar = sample();
    tar.resize(tar.len().div_ceil(10240) * 10240 + 10240, 0);
    let base = tempfile::tempdir().unwrap();
    let stats = unpack(&gzip(&tar)[..], Compression::Auto, &base.path().join("l")).unwrap();
    assert_eq!(stats.diff_id.to_string(), sha256(&tar));
    assert_eq!(stats.size, tar.len() as u64);
}

#[test]
fn empty_stream_is_an_empty_layer() {
    let base = tempfile::tempdir().unwrap();
    let stats = unpack(&b""[..], Compression::Auto, &base.path().join("l")).unwrap();
    assert_eq!(stats.diff_id.to_string(), sha256(b""));
    assert_eq!(list(&base.path().join("l")), Vec::<String>::new());
}

fn assert_clean(base: &std::path::Path) {
    assert_eq!(
        list(base),
        Vec::<String>::new(),
        "a failed unpack left something behind"
    );
}

#[test]
fn truncated_gzip_is_a_decompression_error() {
    let input = gzip(&sample());
    let base = tempfile::tempdir().unwrap();
    let e = unpack(
        &input[..input.len() / 2],
        Compression::Auto,
        &base.path().join("l"),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            UnpackError::Decompress {
                compression: "gzip",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with("cannot decompress layer (gzip): "),
        "{e}"
    );
    assert_clean(base.path());
}

#[test]
fn truncated_zstd_is_a_decompression_error() {
    // (zstd frames carry no checksum by default: a flipped byte can go unnoticed by the decoder;
    // the diff ID is what catches it.)
    let input = zstd(&sample());
    let base = tempfile::tempdir().unwrap();
    let e = unpack(
        &input[..input.len() - 100],
        Compression::Auto,
        &base.path().join("l"),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            UnpackError::Decompress {
                compression: "zstd",
                ..
            }
        ),
        "{e:?}"
    );
    assert_clean(base.path());
}

#[test]
fn truncated_tar_is_a_tar_error() {
    let tar = sample();
    let base = tempfile::tempdir().unwrap();
    // Cut in the middle of the big file's data.
    let e = unpack(&tar[..600_000], Compression::None, &base.path().join("l")).unwrap_err();
    assert!(matches!(e, UnpackError::Tar { .. }), "{e:?}");
    assert_clean(base.path());
    // A header with a bad checksum.
    let mut bad = sample();
    bad[148] ^= 0x01;
    let e = unpack(&bad[..], Compression::None, &base.path().join("l")).unwrap_err();
    assert!(matches!(e, UnpackError::Tar { entries: 0, .. }), "{e:?}");
    assert_clean(base.path());
}

#[test]
fn wrong_declared_compression_is_refused_by_name() {
    let base = tempfile::tempdir().unwrap();
    let dest = base.path().join("l");
    let e = unpack(&sample()[..], Compression::Gzip, &dest).unwrap_err();
    assert_eq!(e.to_string(), "layer declared gzip-compressed is uncompressed");
    let e = unpack(&gzip(&sample())[..], Compression::Zstd, &dest).unwrap_err();
    assert_eq!(e.to_string(), "layer declared zstd-compressed is gzip-compressed");
    let e = unpack(&zstd(&sample())[..], Compression::None, &dest).unwrap_err();
    assert!(
        matches!(
            e,
            UnpackError::CompressionMismatch {
                declared: Compression::None,
                found: Compression::Zstd
            }
        ),
        "{e:?}"
    );
    assert!(e.is_bad_layer());
    assert_clean(base.path());
}

#[test]
fn xz_and_bzip2_are_refused_by_name() {
    let base = tempfile::tempdir().unwrap();
    let e = unpack(
        &b"\xfd7zXZ\x00rest"[..],
        Compression::Auto,
        &base.path().join("l"),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "unsupported layer compression: xz");
    let e = unpack(&b"BZh91AY&SY"[..], Compression::Auto, &base.path().join("l")).unwrap_err();
    assert_eq!(e.to_string(), "unsupported layer compression: bzip2");
    assert_clean(base.path());
}

/// Fails after `left` bytes, like a registry connection dropping mid-layer.
struct Flaky {
    data: Vec<u8>,
    pos: usize,
    left: usize,
}

impl Read for Flaky {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            ));
        }
        let n = buf.len().min(self.left).min(self.data.len() - self.pos).min(4096);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn input_errors_are_read_errors() {
    let input = gzip(&sample());
    let base = tempfile::tempdir().unwrap();
    let flaky = Flaky {
        left: input.len() / 2,
        data: input,
        pos: 0,
    };
    let e = unpack(flaky, Compression::Auto, &base.path().join("l")).unwrap_err();
    assert!(matches!(e, UnpackError::Read { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "cannot read layer stream: connection reset by peer"
    );
    assert!(!e.is_bad_layer());
    assert_clean(base.path());
}
