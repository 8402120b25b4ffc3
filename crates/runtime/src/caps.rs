//! Linux capabilities: names, and the five sets applied to the container process.

use crate::error::{Error, Result};

/// Capability names in kernel order (`CAP_CHOWN` is 0).
// Ref: include/uapi/linux/capability.h
pub const NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A set of capabilities as a bit mask.
pub type CapSet = u64;

/// The highest capability the running kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
}

pub fn by_name(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

/// Parses a list of names into a mask. Capabilities unknown to this runtime are an error; ones the
/// kernel lacks are skipped (runc warns and skips them too), so one config works on older kernels.
pub fn parse_set(names: &[String], which: &str, last: u32) -> Result<CapSet> {
    let mut set = 0u64;
    for n in names {
        let c = by_name(n).ok_or_else(|| Error::msg(format!("unknown capability `{n}` in `{which}`")))?;
        if c <= last {
            set |= 1 << c;
        }
    }
    Ok(set)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sets {
    pub bounding: CapSet,
    pub effective: CapSet,
    pub inheritable: CapSet,
    pub permitted: CapSet,
    pub ambient: CapSet,
}

impl Sets {
    pub fn from_spec(c: Option<&berth_oci::Capabilities>) -> Result<Sets> {
        let last = last_cap();
        let Some(c) = c else { return Ok(Sets::default()) };
        let get = |v: &Option<Vec<String>>, which| parse_set(v.as_deref().unwrap_or(&[]), which, last);
        Ok(Sets {
            bounding: get(&c.bounding, "bounding")?,
            effective: get(&c.effective, "effective")?,
            inheritable: get(&c.inheritable, "inheritable")?,
            permitted: get(&c.permitted, "permitted")?,
            ambient: get(&c.ambient, "ambient")?,
        })
    }

    /// Every capability the kernel knows (for `--privileged` style execs).
    pub fn all() -> Sets {
        let last = last_cap();
        let all = if last >= 63 {
            u64::MAX
        } else {
            (1u64 << (last + 1)) - 1
        };
        Sets {
            bounding: all,
            effective: all,
            inheritable: 0,
            permitted: all,
            ambient: 0,
        }
    }
}

/// Drops from the bounding set everything not in `keep`. Needs CAP_SETPCAP, so it runs before the
/// user switch.
pub fn drop_bounding(keep: CapSet) -> Result<()> {
    for c in 0..=last_cap() {
        if keep & (1 << c) == 0 {
            // SAFETY: prctl with integer arguments only.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, c as libc::c_ulong, 0, 0, 0) };
            if r < 0 {
                let e = nix::errno::Errno::last();
                // EINVAL: the kernel does not know this capability.
                if e != nix::errno::Errno::EINVAL {
                    return Err(Error::sys(
                        "drop bounding capability",
                        NAMES.get(c as usize).unwrap_or(&"?"),
                        e,
                    ));
                }
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Sets the effective, permitted and inheritable sets of the calling thread, then raises the ambient ones.
pub fn set_process(s: &Sets) -> Result<()> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: s.effective as u32,
            permitted: s.permitted as u32,
            inheritable: s.inheritable as u32,
        },
        CapData {
            effective: (s.effective >> 32) as u32,
            permitted: (s.permitted >> 32) as u32,
            inheritable: (s.inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and a two-element data array of the layout _LINUX_CAPABILITY_VERSION_3 expects,
    // both alive for the call.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if r < 0 {
        return Err(Error::sys(
            "set capabilities",
            format!("{:#x}", s.permitted),
            nix::errno::Errno::last(),
        ));
    }
    if s.ambient != 0 {
        for c in 0..=last_cap() {
            if s.ambient & (1 << c) != 0 {
                // SAFETY: prctl with integer arguments only.
                let r = unsafe {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        c as libc::c_ulong,
                        0,
                        0,
                    )
                };
                if r < 0 {
                    // runc ignores failures to raise ambient capabilities that are not inheritable/permitted.
                    let e = nix::errno::Errno::last();
                    if e != nix::errno::Errno::EPERM && e != nix::errno::Errno::EINVAL {
                        return Err(Error::sys("raise ambient capability", NAMES[c as usize], e));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(by_name("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(by_name("net_raw"), Some(13));
        assert_eq!(by_name("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(by_name("CAP_NOPE"), None);
    }

    #[test]
    fn parse_set_rejects_unknown_and_skips_beyond_kernel() {
        let e = parse_set(&["CAP_FOO".into()], "effective", 40).unwrap_err();
        assert!(e.to_string().contains("`CAP_FOO` in `effective`"), "{e}");
        let s = parse_set(&["CAP_KILL".into(), "CAP_BPF".into()], "bounding", 38).unwrap();
        assert_eq!(s, 1 << 5);
    }
}
