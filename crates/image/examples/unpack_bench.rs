//! Times `berth_image::unpack` against `gzip -dc | tar -x` on the same .tar.gz.
//!
//! ```text
//! cargo run --release -p berth-image --example unpack_bench -- [--tar FILE.tar.gz | --src DIR] [--runs N] [--work DIR]
//! cargo run --release -p berth-image --example unpack_bench -- --tar FILE.tar.gz --work DIR --once
//! ```
//!
//! Without `--tar` or `--src` it generates about 200 MB of mixed files (many small text files,
//! some medium and a few large ones, symlinks and hard links) and packs them with `tar czf`.
//! Each tool runs `--runs` times (default 3), in rotating order, after a `sync` so one run's
//! writeback does not land on the next; the median is reported. Outputs are kept until the end
//! (`runs` × 3 × the tar size of disk). Run it as root so both sides chown. On ext4, run it a few
//! minutes after deleting many files: inode allocation then scans past recently deleted inodes,
//! which costs both tools more than the extraction itself.

use std::error::Error;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_image::unpack::{unpack_with, Compression, UnpackOptions};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    let mut tar: Option<PathBuf> = None;
    let mut src: Option<PathBuf> = None;
    let mut runs = 3usize;
    let mut work: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--tar" => tar = args.next().map(PathBuf::from),
            "--src" => src = args.next().map(PathBuf::from),
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--work" => work = args.next().map(PathBuf::from),
            "--once" => {
                // One berth unpack of --tar into --work/once-<pid>, left there (for profiling).
                let tar = tar.clone().ok_or("--once needs --tar first")?;
                let dir = work
                    .clone()
                    .ok_or("--once needs --work first")?
                    .join(format!("once-{}", std::process::id()));
                let t = Instant::now();
                let opts = UnpackOptions {
                    durable: false,
                    ..UnpackOptions::default()
                };
                let stats = unpack_with(fs::File::open(&tar)?, &dir, &opts)?;
                println!("{:.3} s, {} entries", t.elapsed().as_secs_f64(), stats.entries);
                return Ok(());
            }
            _ => return Err(format!("unknown argument `{a}`").into()),
        }
    }
    let scratch = match &work {
        Some(w) => tempfile::tempdir_in(w)?,
        None => tempfile::tempdir_in(std::env::temp_dir())?,
    };
    let tar = match tar {
        Some(t) => t,
        None => {
            let src = match src {
                Some(s) => s,
                None => {
                    let s = scratch.path().join("src");
                    eprintln!("generating files in {} ...", s.display());
                    generate(&s)?;
                    s
                }
            };
            let t = scratch.path().join("layer.tar.gz");
            eprintln!("packing {} ...", src.display());
            let ok = Command::new("tar")
                .arg("czf")
                .arg(&t)
                .arg("-C")
                .arg(&src)
                .arg(".")
                .status()?
                .success();
            if !ok {
                return Err("tar czf failed".into());
            }
            t
        }
    };
    let compressed = fs::metadata(&tar)?.len();
    let raw = {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("gzip -dc '{}' | wc -c", tar.display()))
            .output()?;
        String::from_utf8(out.stdout)?.trim().parse::<u64>()?
    };
    eprintln!(
        "input: {} ({:.1} MB gzip, {:.1} MB tar)",
        tar.display(),
        mb(compressed),
        mb(raw)
    );

    let mut ours = Vec::new();
    let mut ours_durable = Vec::new();
    let mut theirs = Vec::new();
    let mut gunzip = Vec::new();
    let mut decode_only = Vec::new();
    let mut inflate_only = Vec::new();
    for i in 0..runs {
        // Decompression alone, for reference: gzip -dc > /dev/null, and our first stage alone
        // (unpack of a tar with no entries costs nothing but decompress + hash).
        sync();
        let t = Instant::now();
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!("gzip -dc '{}' > /dev/null", tar.display()))
            .status()?;
        gunzip.push(t.elapsed());
        assert!(ok.success());
        let t = Instant::now();
        decode(&tar, true)?;
        decode_only.push(t.elapsed());
        let t = Instant::now();
        decode(&tar, false)?;
        inflate_only.push(t.elapsed());

        // Rotate the order so no tool always runs first (or right after another's writeback);
        // each run starts after a sync, so it pays for its own writeback only.
        for k in 0..3 {
            let tool = (i + k) % 3;
            let dest = scratch.path().join(format!("out-{i}-{tool}"));
            let opts = UnpackOptions {
                compression: Compression::Auto,
                durable: tool == 2,
                ..UnpackOptions::default()
            };
            if tool == 0 {
                fs::create_dir(&dest)?;
            }
            sync();
            let t = Instant::now();
            if tool == 0 {
                let ok = Command::new("sh")
                    .arg("-c")
                    .arg(format!(
                        "gzip -dc '{}' | tar -x --same-owner -p -C '{}'",
                        tar.display(),
                        dest.display()
                    ))
                    .status()?;
                assert!(ok.success(), "gzip | tar failed");
            } else {
                let stats = unpack_with(fs::File::open(&tar)?, &dest, &opts)?;
                if i == 0 && tool == 1 {
                    eprintln!(
                        "diff_id {} entries {} skipped {}",
                        stats.diff_id,
                        stats.entries,
                        stats.skipped.len()
                    );
                }
            }
            let took = t.elapsed();
            [&mut theirs, &mut ours, &mut ours_durable][tool].push(took);
            // Outputs stay until the end: deleting thousands of files right before the next run
            // makes ext4 scan for inodes it will not reuse yet (`recently_deleted`), which would
            // dominate the next run's time.
        }
    }
    for (name, v) in [
        ("tar", &theirs),
        ("berth", &ours),
        ("berth+syncfs", &ours_durable),
    ] {
        let all: Vec<String> = v.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect();
        eprintln!("{name:>13} runs: {}", all.join(" "));
    }
    let (a, b, c) = (median(&mut ours), median(&mut theirs), median(&mut ours_durable));
    let (g, d, inf) = (
        median(&mut gunzip),
        median(&mut decode_only),
        median(&mut inflate_only),
    );
    let rate = |t: Duration| mb(raw) / t.as_secs_f64();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "tar size            {:>8.1} MB (gzip {:.1} MB), {runs} runs, medians",
        mb(raw),
        mb(compressed)
    )?;
    let rows = [
        ("gzip -dc >/dev/null", g),
        ("berth gunzip only", inf),
        ("berth gunzip+sha256", d),
        ("gzip -dc | tar -x", b),
        ("berth unpack", a),
        ("berth unpack+syncfs", c),
    ];
    for (name, t) in rows {
        writeln!(
            out,
            "{name:<19} {:>8.3} s  {:>7.1} MB/s",
            t.as_secs_f64(),
            rate(t)
        )?;
    }
    let ratio = |x: Duration| x.as_secs_f64() / b.as_secs_f64();
    writeln!(
        out,
        "ratio berth/tar     {:>8.2}x time ({:.2}x with syncfs)",
        ratio(a),
        ratio(c)
    )?;
    Ok(())
}

/// Our first stage alone: decompress (and hash), no files.
fn decode(tar: &Path, hash: bool) -> Result<()> {
    use std::io::Read;
    let mut dec =
        flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(256 << 10, fs::File::open(tar)?));
    let mut h = berth_image::digest::Hasher::sha256();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = dec.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if hash {
            h.update(&buf[..n]);
        }
    }
    std::hint::black_box(h.finish());
    Ok(())
}

fn sync() {
    // SAFETY: sync(2) has no preconditions and cannot fail.
    unsafe { libc::sync() };
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// A deterministic tree of about 200 MB: 6,000 small text files (1-16 KiB) in 300 directories,
/// 200 medium files (64 KiB-1 MiB, half compressible), 4 large ones (16 MiB), links.
fn generate(root: &Path) -> Result<()> {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    const WORDS: &[&str] = &[
        "container",
        "layer",
        "image",
        "digest",
        "overlay",
        "namespace",
        "cgroup",
        "runtime",
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "for",
        "with",
        "config",
        "manifest",
        "registry",
        "volume",
        "network",
    ];
    fs::create_dir_all(root)?;
    for d in 0..300 {
        let dir = root.join(format!("d{:02}/sub{:03}", d % 20, d));
        fs::create_dir_all(&dir)?;
        for f in 0..20 {
            let len = 1024 + (next() % (15 * 1024)) as usize;
            let mut s = String::with_capacity(len + 16);
            while s.len() < len {
                s.push_str(WORDS[(next() % WORDS.len() as u64) as usize]);
                s.push(if next() % 12 == 0 { '\n' } else { ' ' });
            }
            fs::write(dir.join(format!("f{f}.txt")), s)?;
        }
        if d % 10 == 0 {
            std::os::unix::fs::symlink("f0.txt", dir.join("link"))?;
            fs::hard_link(dir.join("f1.txt"), dir.join("hard"))?;
        }
    }
    let bin = root.join("bin");
    fs::create_dir_all(&bin)?;
    for f in 0..200 {
        let len = 64 * 1024 + (next() % (960 * 1024)) as usize;
        let mut v = vec![0u8; len];
        for (i, chunk) in v.chunks_mut(8).enumerate() {
            let x = if f % 2 == 0 && i % 4 != 0 { 0 } else { next() };
            let bytes = x.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        fs::write(bin.join(format!("m{f}")), v)?;
    }
    for f in 0..4 {
        let mut v = vec![0u8; 16 << 20];
        for (i, chunk) in v.chunks_mut(8).enumerate() {
            let x = if i % 3 == 0 { next() } else { (i as u64) & 0xff };
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        fs::write(bin.join(format!("large{f}")), v)?;
    }
    Ok(())
}
