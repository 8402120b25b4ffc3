//! The container's root filesystem: propagation, the config's mounts, /dev, pivot_root, masked and
//! read-only paths. Runs in the container's init, inside its new mount namespace.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use berth_oci::{Mount, Spec};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use berth_cgroups::V1Mount;

use crate::error::{Context, Error, Result};
use crate::mounts::{ensure_in_root, fd_path, openat_in_root, setattr_recursive, Kind, Options};

#[derive(Debug)]
pub struct Ctx<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub cgroups: &'a [V1Mount],
    pub new_cgroupns: bool,
    pub in_userns: bool,
}

fn nopath() -> Option<&'static str> {
    None
}

/// Step 1: propagation of `/` and the rootfs bind mount that pivot_root needs.
pub fn prepare_root(ctx: &Ctx) -> Result<()> {
    let prop = match ctx.spec.linux().rootfs_propagation.as_deref() {
        None | Some("") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(p) => crate::mounts::propagation(p).unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC),
    };
    mount(nopath(), "/", nopath(), prop, nopath()).step("set propagation of", "/")?;
    if prop.contains(MsFlags::MS_SHARED) {
        // pivot_root refuses a new root whose parent mount is shared.
        make_parent_private(ctx.rootfs)?;
    }
    mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        nopath(),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        nopath(),
    )
    .step("bind-mount rootfs", ctx.rootfs.display())?;
    Ok(())
}

/// Makes the mount that holds `path` private (only when the requested propagation is shared).
fn make_parent_private(path: &Path) -> Result<()> {
    let info = fs::read_to_string("/proc/self/mountinfo").step("read", "/proc/self/mountinfo")?;
    let mut best: Option<&str> = None;
    for line in info.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        if path.starts_with(mp) && best.is_none_or(|b| mp.len() > b.len()) {
            best = Some(mp);
        }
    }
    if let Some(mp) = best {
        mount(nopath(), mp, nopath(), MsFlags::MS_PRIVATE, nopath()).step("make private", mp)?;
    }
    Ok(())
}

/// Step 2: every mount of the config, then /dev's devices and links.
pub fn mount_all(ctx: &Ctx, rootfd: &OwnedFd) -> Result<()> {
    let mut dev_is_tmpfs = false;
    for m in &ctx.spec.mounts {
        let typ = m.typ.as_deref().unwrap_or("");
        if m.destination == "/dev" && typ == "tmpfs" {
            dev_is_tmpfs = true;
        }
        mount_one(ctx, rootfd, m)?;
    }
    if dev_is_tmpfs {
        create_default_devices(ctx, rootfd)?;
        dev_links(ctx.spec, rootfd)?;
    }
    for d in &ctx.spec.linux().devices {
        create_device(ctx, rootfd, d)?;
    }
    Ok(())
}

fn mount_one(ctx: &Ctx, rootfd: &OwnedFd, m: &Mount) -> Result<()> {
    let typ = m.typ.as_deref().unwrap_or("");
    let opts = Options::parse(&m.options)?;
    let dest = Path::new(&m.destination);
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroups(ctx, rootfd, m, &opts);
    }
    if opts.is_bind() || typ == "bind" {
        return mount_bind(ctx, rootfd, m, &opts);
    }
    let target = ensure_in_root(rootfd, dest, Kind::Dir)?;
    // The directory the tmpfs will cover, kept open to copy its content up once covered.
    let below = if opts.copy_up && typ == "tmpfs" {
        Some(
            openat_in_root(
                target.as_raw_fd(),
                Path::new("."),
                libc::O_DIRECTORY | libc::O_RDONLY,
            )
            .step("open", dest.display())?,
        )
    } else {
        None
    };
    let source = m.source.as_deref().unwrap_or(typ);
    let data = if opts.data.is_empty() {
        None
    } else {
        Some(opts.data.as_str())
    };
    let flags = opts.flags - MsFlags::MS_REMOUNT;
    let r = mount(Some(source), &fd_path(&target), Some(typ), flags, data);
    match (r, typ) {
        (Ok(()), _) => {}
        // Without a network namespace of its own the container may not mount sysfs; runc falls back
        // to a recursive bind of the host's /sys, read-only as asked. The same holds for mqueue
        // without an ipc namespace.
        (Err(Errno::EPERM), "sysfs") | (Err(Errno::EPERM), "mqueue") => {
            let host = if typ == "sysfs" { "/sys" } else { "/dev/mqueue" };
            let bind = Options {
                flags: opts.flags | MsFlags::MS_BIND | MsFlags::MS_REC,
                ..opts.clone()
            };
            let fake = Mount {
                source: Some(host.into()),
                ..m.clone()
            };
            return mount_bind(ctx, rootfd, &fake, &bind);
        }
        (Err(e), _) => return Err(Error::sys(format!("mount {typ} on"), dest.display(), e)),
    }
    if let Some(below) = below {
        let top = ensure_in_root(rootfd, dest, Kind::Dir)?;
        copy_tree(&fd_path(&below), &fd_path(&top))
            .map_err(|e| Error::io("copy image content into tmpfs", dest.display(), e))?;
    }
    if opts.propagation.is_empty() && opts.rec_set == 0 && opts.rec_clear == 0 {
        return Ok(());
    }
    // Re-resolve: the descriptor still points at the directory under the new mount, where a
    // propagation change fails with EINVAL (podman's `--read-only` tmpfs mounts carry `rprivate`).
    let target = ensure_in_root(rootfd, dest, Kind::Dir)?;
    finish(&target, dest, &opts)
}

/// Propagation and recursive attributes, applied after the mount exists.
fn finish(target: &OwnedFd, dest: &Path, opts: &Options) -> Result<()> {
    for p in &opts.propagation {
        mount(nopath(), &fd_path(target), nopath(), *p, nopath())
            .step("set propagation of", dest.display())?;
    }
    if opts.rec_set != 0 || opts.rec_clear != 0 {
        setattr_recursive(&fd_path(target), opts.rec_set, opts.rec_clear)?;
    }
    Ok(())
}

fn mount_bind(ctx: &Ctx, rootfd: &OwnedFd, m: &Mount, opts: &Options) -> Result<()> {
    let dest = Path::new(&m.destination);
    let src = m
        .source
        .as_deref()
        .ok_or_else(|| Error::msg(format!("bind mount `{}` has no source", m.destination)))?;
    let src = if Path::new(src).is_absolute() {
        PathBuf::from(src)
    } else {
        ctx.bundle.join(src)
    };
    let meta = fs::metadata(&src).step("stat bind source", src.display())?;
    let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
    let target = ensure_in_root(rootfd, dest, kind)?;
    let tpath = fd_path(&target);
    let rec = opts.flags & MsFlags::MS_REC;
    mount(Some(&src), &tpath, nopath(), MsFlags::MS_BIND | rec, nopath())
        .map_err(|e| Error::sys(format!("bind-mount `{}` on", src.display()), dest.display(), e))?;
    // The bind itself ignores every flag but MS_REC: remount to apply ro, nosuid, ...
    let extra = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !extra.is_empty() {
        // Re-resolve: the descriptor still points at the directory under the new mount.
        let target = ensure_in_root(rootfd, dest, kind)?;
        remount_bind(&fd_path(&target), dest, extra)?;
        return finish(&target, dest, opts);
    }
    let target = ensure_in_root(rootfd, dest, kind)?;
    finish(&target, dest, opts)
}

/// Remounts a bind mount with `flags`, keeping flags the kernel locks (nosuid, nodev, noexec, atime
/// flags of mounts inherited from a more privileged namespace).
pub fn remount_bind(path: &Path, shown: &Path, flags: MsFlags) -> Result<()> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount(nopath(), path, nopath(), base | flags, nopath()) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => {
            let locked = statvfs_flags(path)?;
            mount(nopath(), path, nopath(), base | flags | locked, nopath()).step("remount", shown.display())
        }
        Err(e) => Err(Error::sys("remount", shown.display(), e)),
    }
}

/// The mount flags of the mount holding `path`, as statvfs reports them.
fn statvfs_flags(path: &Path) -> Result<MsFlags> {
    let st = nix::sys::statvfs::statvfs(path).step("statvfs", path.display())?;
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (a, b) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(a) {
            out |= b;
        }
    }
    Ok(out)
}

/// `/sys/fs/cgroup` inside the container: a fresh cgroup mount per hierarchy with a cgroup namespace
/// (it shows the container's cgroup as the root), else binds of the container's own cgroup dirs.
fn mount_cgroups(ctx: &Ctx, rootfd: &OwnedFd, m: &Mount, opts: &Options) -> Result<()> {
    let dest = Path::new(&m.destination);
    let flags = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if ctx.cgroups.is_empty() {
        return Ok(());
    }
    let target = ensure_in_root(rootfd, dest, Kind::Dir)?;
    if let [only] = ctx.cgroups {
        if only.cgroup2 && only.dest.is_empty() {
            return mount_cgroup_view(ctx, rootfd, only, dest, flags);
        }
    }
    // v1 / hybrid: a tmpfs holding one directory per hierarchy.
    let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("tmpfs"),
        &fd_path(&target),
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .step("mount tmpfs for cgroups on", dest.display())?;
    let dir = ensure_in_root(rootfd, dest, Kind::Dir)?;
    for cg in ctx.cgroups {
        mount_cgroup_view(ctx, rootfd, cg, &dest.join(&cg.dest), flags)?;
        // Docker and runc link each controller of a joint hierarchy: cpu -> cpu,cpuacct.
        for link in &cg.links {
            match symlinkat(&cg.dest, &dir, link) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(Error::sys("create symlink", dest.join(link).display(), e)),
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        mount(
            nopath(),
            &fd_path(&dir),
            nopath(),
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | tmpfs_flags,
            Some("mode=755"),
        )
        .step("remount read-only", dest.display())?;
    }
    Ok(())
}

fn mount_cgroup_view(ctx: &Ctx, rootfd: &OwnedFd, cg: &V1Mount, shown: &Path, flags: MsFlags) -> Result<()> {
    let fd = ensure_in_root(rootfd, shown, Kind::Dir)?;
    let target = &fd_path(&fd);
    if ctx.new_cgroupns {
        let (fstype, data) = if cg.cgroup2 {
            ("cgroup2", None)
        } else {
            ("cgroup", Some(cg.options.as_str()))
        };
        match mount(Some("cgroup"), target, Some(fstype), flags, data) {
            Ok(()) => return Ok(()),
            // A hierarchy that refuses a second mount with these options: fall back to a bind.
            Err(Errno::EBUSY) | Err(Errno::EPERM) | Err(Errno::EINVAL) => {}
            Err(e) => return Err(Error::sys(format!("mount {fstype} on"), shown.display(), e)),
        }
    }
    mount(
        Some(&cg.host_dir),
        target,
        nopath(),
        MsFlags::MS_BIND | MsFlags::MS_REC,
        nopath(),
    )
    .map_err(|e| {
        Error::sys(
            format!("bind-mount `{}` on", cg.host_dir.display()),
            shown.display(),
            e,
        )
    })?;
    if !flags.is_empty() {
        // Through a fresh descriptor: the old one points under the new mount.
        let fd = ensure_in_root(rootfd, shown, Kind::Dir)?;
        remount_bind(&fd_path(&fd), shown, flags)?;
    }
    Ok(())
}

fn symlinkat(target: &str, dir: &OwnedFd, name: &str) -> nix::Result<()> {
    let dirfd = openat_in_root(
        dir.as_raw_fd(),
        Path::new("."),
        libc::O_DIRECTORY | libc::O_RDONLY,
    )?;
    nix::unistd::symlinkat(target, Some(dirfd.as_raw_fd()), name)
}

/// The devices every container gets.
// Ref: runc libcontainer/specconv AllowedDevices / default devices.
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn create_default_devices(ctx: &Ctx, rootfd: &OwnedFd) -> Result<()> {
    let configured: Vec<&str> = ctx.spec.linux().devices.iter().map(|d| d.path.as_str()).collect();
    for (name, major, minor) in DEFAULT_DEVICES {
        let path = format!("/dev/{name}");
        if configured.contains(&path.as_str()) {
            continue;
        }
        let dev = berth_oci::Device {
            typ: "c".into(),
            path,
            major: *major as i64,
            minor: *minor as i64,
            file_mode: Some(0o666),
            uid: Some(0),
            gid: Some(0),
        };
        create_device(ctx, rootfd, &dev)?;
    }
    Ok(())
}

fn create_device(ctx: &Ctx, rootfd: &OwnedFd, d: &berth_oci::Device) -> Result<()> {
    let path = Path::new(&d.path);
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .ok_or_else(|| Error::msg(format!("invalid device path `{}`", d.path)))?;
    let pfd = ensure_in_root(rootfd, parent, Kind::Dir)?;
    let dir = openat_in_root(
        pfd.as_raw_fd(),
        Path::new("."),
        libc::O_DIRECTORY | libc::O_RDONLY,
    )
    .step("open parent of device", &d.path)?;
    if ctx.in_userns {
        // mknod is not allowed in a user namespace: bind the host's node instead.
        let host = Path::new(&d.path);
        let fd = ensure_in_root(rootfd, path, Kind::File)?;
        return mount(Some(host), &fd_path(&fd), nopath(), MsFlags::MS_BIND, nopath())
            .map_err(|e| Error::sys(format!("bind-mount device `{}` on", host.display()), &d.path, e));
    }
    let kind = match d.typ.as_str() {
        "c" | "u" => SFlag::S_IFCHR,
        "b" => SFlag::S_IFBLK,
        "p" => SFlag::S_IFIFO,
        t => return Err(Error::msg(format!("device `{}` has unknown type `{t}`", d.path))),
    };
    let mode = Mode::from_bits_truncate(d.file_mode.unwrap_or(0o666) & 0o7777);
    let dev = makedev(d.major as u64, d.minor as u64);
    let full = fd_path(&dir).join(name);
    match mknod(&full, kind, mode, dev) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            // A device listed in the config that the image already has: replace it.
            let _ = nix::unistd::unlinkat(
                Some(dir.as_raw_fd()),
                name,
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
            mknod(&full, kind, mode, dev).step("create device", &d.path)?;
        }
        Err(e) => return Err(Error::sys("create device", &d.path, e)),
    }
    nix::sys::stat::fchmodat(
        Some(dir.as_raw_fd()),
        name,
        mode,
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .or_else(|e| {
        if e == Errno::EOPNOTSUPP {
            nix::sys::stat::fchmodat(
                Some(dir.as_raw_fd()),
                name,
                mode,
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
        } else {
            Err(e)
        }
    })
    .step("chmod device", &d.path)?;
    let (uid, gid) = (d.uid.unwrap_or(0), d.gid.unwrap_or(0));
    if uid != 0 || gid != 0 {
        nix::unistd::fchownat(
            Some(dir.as_raw_fd()),
            name,
            Some(uid.into()),
            Some(gid.into()),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .step("chown device", &d.path)?;
    }
    Ok(())
}

fn dev_links(spec: &Spec, rootfd: &OwnedFd) -> Result<()> {
    let dev = ensure_in_root(rootfd, Path::new("/dev"), Kind::Dir)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    if spec.mounts.iter().any(|m| m.destination == "/dev/pts") {
        links.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in links {
        match symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(Error::sys("create symlink", format!("/dev/{name}"), e)),
        }
    }
    Ok(())
}

/// Step 3: make the rootfs `/`. With `no_pivot`, move it over `/` and chroot (for ramdisk roots where
/// pivot_root is impossible).
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<()> {
    nix::unistd::chdir(rootfs).step("chdir to rootfs", rootfs.display())?;
    if no_pivot {
        mount(Some("."), "/", nopath(), MsFlags::MS_MOVE, nopath()).step("move rootfs to", "/")?;
        nix::unistd::chroot(".").step("chroot to", rootfs.display())?;
    } else {
        // pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then drops
        // it without needing a directory for it inside the image.
        nix::unistd::pivot_root(".", ".").step("pivot_root to", rootfs.display())?;
        mount(
            nopath(),
            ".",
            nopath(),
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            nopath(),
        )
        .step("make old root a slave", "/")?;
        umount2(".", MntFlags::MNT_DETACH).step("unmount old root", "/")?;
    }
    nix::unistd::chdir("/").step("chdir to", "/")?;
    Ok(())
}

/// Step 4, after pivot: masked and read-only paths.
pub fn protect_paths(spec: &Spec) -> Result<()> {
    let linux = spec.linux();
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step("open", "/")?;
    // SAFETY: a fresh descriptor from open, owned by nothing else.
    let root = unsafe { OwnedFd::from_raw_fd(root) };
    for p in &linux.masked_paths {
        let fd = match openat_in_root(
            root.as_raw_fd(),
            &crate::mounts::relative(Path::new(p)),
            libc::O_PATH,
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(Error::sys("resolve masked path", p, e)),
        };
        let target = fd_path(&fd);
        let is_dir = fs::metadata(&target).map(|m| m.is_dir()).unwrap_or(false);
        let r = if is_dir {
            mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0"),
            )
        } else {
            mount(Some("/dev/null"), &target, nopath(), MsFlags::MS_BIND, nopath())
        };
        r.step("mask", p)?;
    }
    for p in &linux.readonly_paths {
        let fd = match openat_in_root(
            root.as_raw_fd(),
            &crate::mounts::relative(Path::new(p)),
            libc::O_PATH,
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(Error::sys("resolve read-only path", p, e)),
        };
        let target = fd_path(&fd);
        mount(
            Some(&target),
            &target,
            nopath(),
            MsFlags::MS_BIND | MsFlags::MS_REC,
            nopath(),
        )
        .step("bind-mount read-only path", p)?;
        let fd = openat_in_root(
            root.as_raw_fd(),
            &crate::mounts::relative(Path::new(p)),
            libc::O_PATH,
        )
        .step("resolve read-only path", p)?;
        remount_bind(&fd_path(&fd), Path::new(p), MsFlags::MS_RDONLY | MsFlags::MS_REC)?;
    }
    Ok(())
}

/// Step 5: a read-only root.
pub fn readonly_root() -> Result<()> {
    remount_bind(Path::new("/"), Path::new("/"), MsFlags::MS_RDONLY)
}

/// `/dev/console` as a bind of the container's pty slave.
pub fn mount_console(slave: &Path) -> Result<()> {
    let console = Path::new("/dev/console");
    if !console.exists() {
        fs::File::create(console).step("create", "/dev/console")?;
    }
    mount(Some(slave), console, nopath(), MsFlags::MS_BIND, nopath())
        .step("bind-mount console on", "/dev/console")
}

/// Copies a directory tree (files, directories, symlinks; modes, owners and times of files) from `from`
/// into the existing directory `to`, for `tmpcopyup`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
    // `from` and `to` may be /proc/self/fd links: follow them for the top directory.
    let top = fs::metadata(from)?;
    fs::set_permissions(to, fs::Permissions::from_mode(top.mode() & 0o7777))?;
    std::os::unix::fs::chown(to, Some(top.uid()), Some(top.gid()))?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let dst = to.join(entry.file_name());
        let ft = meta.file_type();
        if ft.is_dir() {
            fs::create_dir(&dst)?;
            copy_tree(&entry.path(), &dst)?;
            continue;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &dst)?;
        } else if ft.is_file() {
            fs::copy(entry.path(), &dst)?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else {
            // Device nodes, fifos and sockets are not copied (runc skips them too).
            continue;
        }
        lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
    }
    Ok(())
}
