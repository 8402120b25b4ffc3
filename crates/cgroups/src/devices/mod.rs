//! Device access rules (`linux.resources.devices`): v1 through `devices.allow`/`devices.deny`,
//! v2 through an eBPF program attached to the cgroup.
//!
//! Both go through the same emulator of the v1 devices cgroup, as runc does: it folds the rule list
//! into a default action plus exceptions, refuses rules v1 would silently ignore (punching a hole in
//! a wildcard), and on v1 computes the least disruptive transition from the current rules, so an
//! `update` of a running container never passes through "deny everything".
// Ref: runc (opencontainers/cgroups) devices/devices_emulator.go, devices/v1.go, devices/devicefilter.go.

pub(crate) mod bpf;
pub(crate) mod emulator;
#[cfg(test)]
mod interp;
pub(crate) mod program;

use std::fmt;
use std::path::Path;

use berth_oci::DeviceCgroup;

use crate::error::CgroupError;
use crate::file::{self, MultiWriter};
use emulator::Emulator;

/// Device node type of a rule (`a` is every type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum DevType {
    Block,
    Char,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleType {
    All,
    Dev(DevType),
}

/// Access bits, with the values of `BPF_DEVCG_ACC_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub(crate) struct Perms(pub(crate) u8);

impl Perms {
    pub(crate) const MKNOD: u8 = 1;
    pub(crate) const READ: u8 = 2;
    pub(crate) const WRITE: u8 = 4;
    pub(crate) const ALL: Perms = Perms(7);

    pub(crate) fn parse(s: &str) -> Option<Perms> {
        let mut p = 0;
        for c in s.chars() {
            p |= match c {
                'r' => Perms::READ,
                'w' => Perms::WRITE,
                'm' => Perms::MKNOD,
                _ => return None,
            };
        }
        Some(Perms(p))
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub(crate) fn union(self, o: Perms) -> Perms {
        Perms(self.0 | o.0)
    }
    pub(crate) fn difference(self, o: Perms) -> Perms {
        Perms(self.0 & !o.0)
    }
    pub(crate) fn intersection(self, o: Perms) -> Perms {
        Perms(self.0 & o.0)
    }
    #[cfg(test)]
    pub(crate) fn contains(self, o: Perms) -> bool {
        o.0 & !self.0 == 0
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [(Perms::READ, 'r'), (Perms::WRITE, 'w'), (Perms::MKNOD, 'm')] {
            if self.0 & bit != 0 {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One device rule; -1 is the wildcard major or minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) typ: RuleType,
    pub(crate) major: i64,
    pub(crate) minor: i64,
    pub(crate) perms: Perms,
    pub(crate) allow: bool,
}

impl Rule {
    /// The text the v1 `devices.allow`/`devices.deny` files take: `c 1:3 rwm`, `a *:* rwm`.
    pub(crate) fn cgroup_string(&self) -> String {
        let t = match self.typ {
            RuleType::All => 'a',
            RuleType::Dev(DevType::Block) => 'b',
            RuleType::Dev(DevType::Char) => 'c',
        };
        let num = |n: i64| if n < 0 { "*".to_string() } else { n.to_string() };
        format!("{t} {}:{} {}", num(self.major), num(self.minor), self.perms)
    }
}

/// Converts the OCI rules with runc's defaults: no type is `a`, no major/minor is the wildcard, and
/// an empty access is refused.
pub(crate) fn rules_from_oci(devs: &[DeviceCgroup]) -> Result<Vec<Rule>, CgroupError> {
    devs.iter()
        .enumerate()
        .map(|(i, d)| {
            let bad = |why: String| CgroupError::InvalidResource(format!("devices[{i}]: {why}"));
            let typ = match d.typ.as_deref().unwrap_or("a") {
                "a" => RuleType::All,
                "b" => RuleType::Dev(DevType::Block),
                "c" => RuleType::Dev(DevType::Char),
                t => return Err(bad(format!("invalid device type `{t}` (expected a, b or c)"))),
            };
            let access = d.access.as_deref().unwrap_or("");
            let perms = Perms::parse(access).filter(|p| !p.is_empty()).ok_or_else(|| {
                bad(format!(
                    "invalid access `{access}` (expected a combination of r, w, m)"
                ))
            })?;
            let num = |n: Option<i64>, what: &str| match n {
                None => Ok(-1),
                Some(n) if (-1..=u32::MAX as i64).contains(&n) => Ok(n),
                Some(n) => Err(bad(format!("invalid {what} number {n}"))),
            };
            Ok(Rule {
                typ,
                major: num(d.major, "major")?,
                minor: num(d.minor, "minor")?,
                perms,
                allow: d.allow,
            })
        })
        .collect()
}

/// The device rules runc appends to every container's list: mknod of any device, the standard
/// `/dev` nodes (null, zero, full, random, urandom, tty, ptmx, the pts range) and `/dev/net/tun`.
// Ref: runc libcontainer/specconv/spec_linux.go AllowedDevices.
pub fn default_allowed_devices() -> Vec<DeviceCgroup> {
    let dev = |typ: &str, major: Option<i64>, minor: Option<i64>, access: &str| DeviceCgroup {
        allow: true,
        typ: Some(typ.into()),
        major,
        minor,
        access: Some(access.into()),
    };
    vec![
        dev("c", None, None, "m"),
        dev("b", None, None, "m"),
        dev("c", Some(1), Some(3), "rwm"),
        dev("c", Some(1), Some(8), "rwm"),
        dev("c", Some(1), Some(7), "rwm"),
        dev("c", Some(5), Some(0), "rwm"),
        dev("c", Some(1), Some(5), "rwm"),
        dev("c", Some(1), Some(9), "rwm"),
        dev("c", Some(136), None, "rwm"),
        dev("c", Some(5), Some(2), "rwm"),
        dev("c", Some(10), Some(200), "rwm"),
    ]
}

fn emulate(rules: &[Rule]) -> Result<Emulator, CgroupError> {
    let mut target = Emulator::default();
    for r in rules {
        target.apply(r).map_err(CgroupError::InvalidResource)?;
    }
    Ok(target)
}

/// v1: reads `devices.list`, writes the minimal transition to the target rules, then checks the
/// kernel's list matches (for an allow-list exactly; for a deny-list, its mode).
pub(crate) fn set_v1(dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    let target = emulate(rules)?;
    let list_path = dir.join("devices.list");
    let list = file::read_single(&list_path)?;
    let current = Emulator::from_list(&list).map_err(|e| file::parse_err(&list_path, e))?;
    let mut allow = MultiWriter::new(dir.join("devices.allow"));
    let mut deny = MultiWriter::new(dir.join("devices.deny"));
    for rule in current.transition(&target) {
        let w = if rule.allow { &mut allow } else { &mut deny };
        w.write(&rule.cgroup_string())?;
    }
    drop((allow, deny));

    let after_text = file::read_single(&list_path)?;
    let after = Emulator::from_list(&after_text).map_err(|e| file::parse_err(&list_path, e))?;
    let ok = if target.is_blacklist() {
        after.is_blacklist()
    } else {
        after == target
    };
    if !ok {
        return Err(file::parse_err(
            &list_path,
            format!(
                "the kernel's device rules do not match the requested ones after writing them:\n{after_text}"
            ),
        ));
    }
    Ok(())
}

/// v2: generates the filter program from the rules and attaches it to the cgroup directory,
/// replacing the filters attached before.
pub(crate) fn set_v2(dir: &Path, rules: &[Rule]) -> Result<(), CgroupError> {
    let emu = emulate(rules)?;
    let insns = program::device_filter(&emu)?;
    match bpf::load_and_attach(dir, &insns) {
        // Nothing to enforce (allow-all): a kernel without cgroup bpf loses nothing, as in runc.
        Err(_) if emu.is_allow_all() => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_defaults_and_errors() {
        let r = rules_from_oci(&[DeviceCgroup {
            allow: false,
            access: Some("rwm".into()),
            ..Default::default()
        }])
        .unwrap();
        assert_eq!(r[0].cgroup_string(), "a *:* rwm");
        assert!(!r[0].allow);
        let e = rules_from_oci(&[DeviceCgroup {
            allow: true,
            ..Default::default()
        }])
        .unwrap_err();
        assert!(e.to_string().contains("devices[0]: invalid access ``"), "{e}");
        let e = rules_from_oci(&[DeviceCgroup {
            allow: true,
            typ: Some("x".into()),
            access: Some("r".into()),
            ..Default::default()
        }])
        .unwrap_err();
        assert!(e.to_string().contains("invalid device type `x`"), "{e}");
        let e = rules_from_oci(&[DeviceCgroup {
            allow: true,
            typ: Some("c".into()),
            major: Some(1 << 40),
            access: Some("r".into()),
            ..Default::default()
        }])
        .unwrap_err();
        assert!(e.to_string().contains("major"), "{e}");
    }

    #[test]
    fn perms_print_in_rwm_order() {
        assert_eq!(Perms::parse("mwr").unwrap().to_string(), "rwm");
        assert_eq!(Perms::parse("m").unwrap().to_string(), "m");
        assert!(Perms::parse("rx").is_none());
    }

    fn fake_devices_dir(list: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in ["devices.allow", "devices.deny"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        std::fs::write(d.path().join("devices.list"), list).unwrap();
        d
    }

    #[test]
    fn v1_new_cgroup_gets_deny_all_then_allows() {
        // A new cgroup lists `a *:* rwm` (allow all); the fake list does not change on write, so the
        // final check would fail: check the writes, and the error naming devices.list.
        let d = fake_devices_dir("a *:* rwm\n");
        let mut devs = vec![DeviceCgroup {
            allow: false,
            access: Some("rwm".into()),
            ..Default::default()
        }];
        devs.extend(default_allowed_devices());
        let rules = rules_from_oci(&devs).unwrap();
        let e = set_v1(d.path(), &rules).unwrap_err();
        assert!(e.to_string().contains("devices.list"), "{e}");
        assert_eq!(
            std::fs::read_to_string(d.path().join("devices.deny")).unwrap(),
            "a *:* rwm\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("devices.allow")).unwrap(),
            "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\n"
        );
    }

    #[test]
    fn v1_update_of_allow_list_is_minimal_and_verified() {
        // Already `c 1:3 rwm` + `c 1:5 rwm`; target drops 1:5 and adds 1:9. The fake list already
        // shows the target, so the final check passes.
        let d = fake_devices_dir("c 1:3 rwm\nc 1:9 rwm\n");
        let list_before = "c 1:3 rwm\nc 1:5 rwm\n";
        let current = Emulator::from_list(list_before).unwrap();
        let rules = rules_from_oci(&[
            DeviceCgroup {
                allow: false,
                access: Some("rwm".into()),
                ..Default::default()
            },
            DeviceCgroup {
                allow: true,
                typ: Some("c".into()),
                major: Some(1),
                minor: Some(3),
                access: Some("rwm".into()),
            },
            DeviceCgroup {
                allow: true,
                typ: Some("c".into()),
                major: Some(1),
                minor: Some(9),
                access: Some("rwm".into()),
            },
        ])
        .unwrap();
        let target = emulate(&rules).unwrap();
        let t: Vec<String> = current
            .transition(&target)
            .iter()
            .map(|r| format!("{} {}", r.allow, r.cgroup_string()))
            .collect();
        assert_eq!(t, ["false c 1:5 rwm", "true c 1:9 rwm"]);
        set_v1(d.path(), &rules).unwrap();
    }

    #[test]
    fn hole_in_wildcard_is_refused() {
        let rules = rules_from_oci(&[
            DeviceCgroup {
                allow: false,
                access: Some("rwm".into()),
                ..Default::default()
            },
            DeviceCgroup {
                allow: true,
                typ: Some("c".into()),
                major: Some(1),
                access: Some("rwm".into()),
                ..Default::default()
            },
            DeviceCgroup {
                allow: false,
                typ: Some("c".into()),
                major: Some(1),
                minor: Some(3),
                access: Some("r".into()),
            },
        ])
        .unwrap();
        let e = emulate(&rules).unwrap_err();
        assert!(e.to_string().contains("wildcard"), "{e}");
    }
}
