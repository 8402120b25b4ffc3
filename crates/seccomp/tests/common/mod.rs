//! Shared by the integration tests: Docker's default profile as the OCI object dockerd hands to
//! runc, a reference evaluator working directly on the spec, and a small deterministic PRNG.
#![allow(dead_code)]

use berth_oci::{Seccomp, SeccompAction, SeccompArch, SeccompOp};
use berth_seccomp::{audit_arch, syscall_number, SeccompData, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use serde_json::Value;

/// moby/profiles seccomp/default.json, as vendored in moby/moby.
pub const DOCKER_DEFAULT_JSON: &str = include_str!("../fixtures/docker-default.json");

/// Docker's default capability set.
// Ref: moby daemon/pkg/oci/caps/defaults.go DefaultCapabilities()
pub const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The OCI seccomp object dockerd generates from its default profile on an amd64 host for a
/// container with `caps` in its bounding set, on a kernel new enough for every `minKernel`.
// Ref: moby/profiles seccomp/seccomp_linux.go setupSeccomp()
pub fn docker_profile(caps: &[&str]) -> Seccomp {
    let profile: Value = serde_json::from_str(DOCKER_DEFAULT_JSON).expect("fixture is JSON");
    let arch = "amd64";
    let mut architectures = Vec::new();
    for entry in profile["archMap"].as_array().expect("archMap") {
        if entry["architecture"] == "SCMP_ARCH_X86_64" {
            architectures.push(entry["architecture"].clone());
            architectures.extend(
                entry["subArchitectures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        }
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().expect("string").to_string())
            .collect()
    };
    let mut syscalls = Vec::new();
    for call in profile["syscalls"].as_array().expect("syscalls") {
        let excludes = &call["excludes"];
        if strings(&excludes["arches"]).iter().any(|a| a == arch)
            || strings(&excludes["caps"])
                .iter()
                .any(|c| caps.contains(&c.as_str()))
            || !excludes["minKernel"].is_null()
        {
            continue;
        }
        let includes = &call["includes"];
        let arches = strings(&includes["arches"]);
        if !arches.is_empty() && !arches.iter().any(|a| a == arch) {
            continue;
        }
        if !strings(&includes["caps"])
            .iter()
            .all(|c| caps.contains(&c.as_str()))
        {
            continue;
        }
        let mut oci = serde_json::Map::new();
        for key in ["names", "action", "errnoRet", "args"] {
            if !call[key].is_null() {
                oci.insert(key.to_string(), call[key].clone());
            }
        }
        syscalls.push(Value::Object(oci));
    }
    let oci = serde_json::json!({
        "defaultAction": profile["defaultAction"],
        "defaultErrnoRet": profile["defaultErrnoRet"],
        "architectures": architectures,
        "syscalls": syscalls,
    });
    serde_json::from_value(oci).expect("valid OCI seccomp object")
}

pub fn data(arch: SeccompArch, name: &str, args: [u64; 6]) -> SeccompData {
    SeccompData {
        nr: syscall_number(arch, name).unwrap_or_else(|| panic!("no `{name}` on {arch:?}")),
        arch: audit_arch(arch).expect("supported arch"),
        instruction_pointer: 0,
        args,
    }
}

pub const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
pub const KILL_THREAD: u32 = libc::SECCOMP_RET_KILL_THREAD;
pub const KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;

pub fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}

#[cfg(target_arch = "x86_64")]
pub const NATIVE: SeccompArch = SeccompArch::X86_64;
#[cfg(target_arch = "aarch64")]
pub const NATIVE: SeccompArch = SeccompArch::Aarch64;

fn ret_of(action: SeccompAction, errno: Option<u32>) -> u32 {
    let e = errno.unwrap_or(libc::EPERM as u32);
    match action {
        SeccompAction::Kill | SeccompAction::KillThread => libc::SECCOMP_RET_KILL_THREAD,
        SeccompAction::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        SeccompAction::Trap => libc::SECCOMP_RET_TRAP,
        SeccompAction::Errno => libc::SECCOMP_RET_ERRNO | e,
        SeccompAction::Trace => libc::SECCOMP_RET_TRACE | e,
        SeccompAction::Allow => libc::SECCOMP_RET_ALLOW,
        SeccompAction::Log => libc::SECCOMP_RET_LOG,
        SeccompAction::Notify => libc::SECCOMP_RET_USER_NOTIF,
    }
}

fn is_32bit(arch: SeccompArch) -> bool {
    matches!(arch, SeccompArch::X86 | SeccompArch::X32)
}

/// Whether `arg` satisfies the condition, evaluated the obvious way on the spec's numbers.
fn holds(op: SeccompOp, value: u64, value_two: u64, arg: u64, narrow: bool) -> bool {
    let (arg, value, value_two) = if narrow {
        (arg as u32 as u64, value as u32 as u64, value_two as u32 as u64)
    } else {
        (arg, value, value_two)
    };
    match op {
        SeccompOp::NotEqual => arg != value,
        SeccompOp::LessThan => arg < value,
        SeccompOp::LessOrEqual => arg <= value,
        SeccompOp::Equal => arg == value,
        SeccompOp::GreaterOrEqual => arg >= value,
        SeccompOp::GreaterThan => arg > value,
        SeccompOp::MaskedEqual => arg & value == value_two & value,
    }
}

/// (operator, value, valueTwo, argument index)
type RefCond = (SeccompOp, u64, u64, usize);

/// What the filter runc would install for `spec` answers to `data`, computed directly from the
/// spec: runc's -ENOSYS stub, then libseccomp's architecture and x32 checks, then the rules.
pub fn reference(spec: &Seccomp, data: &SeccompData) -> u32 {
    let default = ret_of(spec.default_action, spec.default_errno_ret);
    let mut archs = vec![NATIVE];
    archs.extend(
        spec.architectures
            .iter()
            .copied()
            .filter(|a| audit_arch(*a).is_some()),
    );
    let listed = |a: SeccompArch| archs.contains(&a);

    // Which ABI's rules and limits apply.
    let abi = if data.arch == AUDIT_ARCH_X86_64 {
        let x32_rules = listed(SeccompArch::X32) && data.nr >= X32_SYSCALL_BIT;
        let x64_rules = listed(SeccompArch::X86_64) && data.nr < X32_SYSCALL_BIT;
        // runc's stub picks its limit by bit 30 alone, before libseccomp's checks.
        let stub_abi = if data.nr & X32_SYSCALL_BIT != 0 {
            SeccompArch::X32
        } else {
            SeccompArch::X86_64
        };
        if listed(stub_abi) && stub_fires(spec, stub_abi, data.nr) {
            return libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
        }
        if x32_rules {
            SeccompArch::X32
        } else if x64_rules {
            SeccompArch::X86_64
        } else if listed(SeccompArch::X86_64) && !listed(SeccompArch::X32) && data.nr == u32::MAX {
            return default;
        } else {
            return KILL_THREAD;
        }
    } else {
        match archs.iter().find(|a| audit_arch(**a) == Some(data.arch)) {
            Some(&a) => {
                if stub_fires(spec, a, data.nr) {
                    return libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
                }
                a
            }
            None => return KILL_THREAD,
        }
    };
    let narrow = is_32bit(abi);

    // Rules that name this syscall, as runc hands them to libseccomp.
    let mut rules: Vec<(u32, Vec<RefCond>)> = Vec::new();
    for call in &spec.syscalls {
        let ret = ret_of(call.action, call.errno_ret);
        if ret == default {
            continue;
        }
        if !call.names.iter().any(|n| syscall_number(abi, n) == Some(data.nr)) {
            continue;
        }
        let conds: Vec<_> = call
            .args
            .iter()
            .map(|a| (a.op, a.value, a.value_two, a.index as usize))
            .collect();
        let mut indexes: Vec<usize> = conds.iter().map(|c| c.3).collect();
        indexes.sort();
        let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
        if repeated {
            rules.extend(conds.into_iter().map(|c| (ret, vec![c])));
        } else {
            rules.push((ret, conds));
        }
    }
    // A masked comparison with an empty mask always holds: such a rule is unconditional.
    let always =
        |c: &RefCond| c.0 == SeccompOp::MaskedEqual && (if narrow { c.1 as u32 as u64 } else { c.1 }) == 0;
    if let Some((ret, _)) = rules.iter().find(|r| r.1.iter().all(always)) {
        return *ret;
    }
    for (ret, conds) in &rules {
        if conds
            .iter()
            .all(|&(op, v, v2, i)| holds(op, v, v2, data.args[i], narrow))
        {
            return *ret;
        }
    }
    default
}

fn stub_fires(spec: &Seccomp, abi: SeccompArch, nr: u32) -> bool {
    let default = ret_of(spec.default_action, spec.default_errno_ret);
    if matches!(
        spec.default_action,
        SeccompAction::Allow | SeccompAction::Log | SeccompAction::Trace
    ) || default == libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32
    {
        return false;
    }
    let max = spec
        .syscalls
        .iter()
        .flat_map(|s| &s.names)
        .filter_map(|n| syscall_number(abi, n))
        .max()
        .unwrap_or(0);
    max != 0 && nr > max
}

/// xorshift64*: deterministic, so a failure reproduces from the printed seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
