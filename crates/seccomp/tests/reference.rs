//! Random profiles and random syscalls: the compiled program must answer what the reference
//! evaluator (tests/common) computes directly from the spec.
#![cfg(target_arch = "x86_64")]

mod common;

use berth_oci::{Seccomp, SeccompAction, SeccompArch, SeccompArg, SeccompOp, SeccompSyscall};
use berth_seccomp::{
    audit_arch, compile, disassemble, syscall_number, SeccompData, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386,
    AUDIT_ARCH_X86_64, X32_SYSCALL_BIT,
};
use common::{reference, Rng};

const NAMES: &[&str] = &[
    "read",
    "write",
    "open",
    "openat",
    "close",
    "clone",
    "socket",
    "personality",
    "mount",
    "ioctl",
    "kill",
    "futex",
    "mmap",
    "mprotect",
    "execve",
    "getppid",
    "chown32",
    "socketcall",
    "arch_prctl",
    "rt_sigaction",
    "process_mrelease",
    "futex_waitv",
    "no_such_syscall",
];

const ACTIONS: &[SeccompAction] = &[
    SeccompAction::Kill,
    SeccompAction::KillProcess,
    SeccompAction::KillThread,
    SeccompAction::Trap,
    SeccompAction::Errno,
    SeccompAction::Trace,
    SeccompAction::Allow,
    SeccompAction::Log,
    SeccompAction::Notify,
];

const OPS: &[SeccompOp] = &[
    SeccompOp::NotEqual,
    SeccompOp::LessThan,
    SeccompOp::LessOrEqual,
    SeccompOp::Equal,
    SeccompOp::GreaterOrEqual,
    SeccompOp::GreaterThan,
    SeccompOp::MaskedEqual,
];

/// Values that sit on word boundaries, where a wrong hi/lo split shows.
const EDGES: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0x1_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_0000_0000,
    0xffff_ffff_ffff_fffe,
    u64::MAX,
];

fn value(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => rng.next(),
        1 => rng.next() & 0xff,
        _ => *rng.pick(EDGES),
    }
}

fn random_spec(rng: &mut Rng) -> Seccomp {
    let default_action = loop {
        let a = *rng.pick(ACTIONS);
        if a != SeccompAction::Notify {
            break a;
        }
    };
    let errno_choices = [None, Some(1), Some(38), Some(0), Some(4095), Some(0xffff)];
    let mut architectures = Vec::new();
    for arch in [
        SeccompArch::X86,
        SeccompArch::X32,
        SeccompArch::X86_64,
        SeccompArch::Aarch64,
    ] {
        if rng.chance(50) {
            architectures.push(arch);
        }
    }
    if rng.chance(10) {
        // Listed but impossible on this host: ignored.
        architectures.push(SeccompArch::Mips64);
    }
    let mut syscalls = Vec::new();
    for _ in 0..rng.below(12) {
        let mut names = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let name = *rng.pick(NAMES);
            // runc refuses NOTIFY on write; keep the generator inside the valid space.
            names.push(name.to_string());
        }
        let mut action = *rng.pick(ACTIONS);
        if action == SeccompAction::Notify && names.iter().any(|n| n == "write") {
            action = SeccompAction::Errno;
        }
        let mut args = Vec::new();
        if rng.chance(60) {
            for _ in 0..1 + rng.below(3) {
                let indexes = if rng.chance(70) { 2 } else { 6 };
                args.push(SeccompArg {
                    index: rng.below(indexes) as u32,
                    value: value(rng),
                    value_two: if rng.chance(70) { value(rng) } else { 0 },
                    op: *rng.pick(OPS),
                });
            }
        }
        syscalls.push(SeccompSyscall {
            names,
            action,
            errno_ret: *rng.pick(&errno_choices),
            args,
        });
    }
    Seccomp {
        default_action,
        default_errno_ret: *rng.pick(&errno_choices),
        architectures,
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls,
    }
}

fn random_data(rng: &mut Rng, spec: &Seccomp) -> SeccompData {
    let arch = *rng.pick(&[
        SeccompArch::X86_64,
        SeccompArch::X86_64,
        SeccompArch::X86,
        SeccompArch::X32,
        SeccompArch::Aarch64,
    ]);
    let audit = if rng.chance(3) {
        rng.next() as u32
    } else {
        audit_arch(arch).unwrap()
    };
    let nr = match rng.below(10) {
        0 => rng.next() as u32,
        1 => *rng.pick(&[
            u32::MAX,
            X32_SYSCALL_BIT - 1,
            X32_SYSCALL_BIT,
            0x7fff_ffff,
            0x8000_0000,
            0xc000_0000,
        ]),
        2 => {
            rng.below(600) as u32
                | if arch == SeccompArch::X32 {
                    X32_SYSCALL_BIT
                } else {
                    0
                }
        }
        _ => {
            let name = rng.pick(NAMES);
            let nr = syscall_number(arch, name).unwrap_or(rng.below(500) as u32);
            nr.wrapping_add(*rng.pick(&[0, 0, 0, 1, u32::MAX]))
        }
    };
    // Arguments near the values the rules compare against.
    let used: Vec<(u64, u64)> = spec
        .syscalls
        .iter()
        .flat_map(|s| &s.args)
        .map(|a| (a.value, a.value_two))
        .collect();
    let mut args = [0u64; 6];
    for arg in &mut args {
        *arg = match (rng.below(6), used.is_empty()) {
            (0, _) | (_, true) => value(rng),
            (1, false) => rng.pick(&used).0,
            (2, false) => rng.pick(&used).1,
            (3, false) => rng.pick(&used).0.wrapping_add(1),
            (4, false) => rng.pick(&used).0.wrapping_sub(1),
            _ => {
                // Same low word, different high word, and the other way round.
                let v = rng.pick(&used).0;
                if rng.chance(50) {
                    v ^ (1 << (32 + rng.below(32)))
                } else {
                    v ^ (1 << rng.below(32))
                }
            }
        };
    }
    SeccompData {
        nr,
        arch: audit,
        instruction_pointer: rng.next(),
        args,
    }
}

#[test]
fn compiled_programs_agree_with_the_reference() {
    let mut rng = Rng::new(0x5eed_ba5e_u64);
    for round in 0..3000 {
        let spec = random_spec(&mut rng);
        let filter = compile(&spec).unwrap_or_else(|e| panic!("round {round}: {e}\n{spec:#?}"));
        assert!(filter.instructions().len() <= 4096);
        for _ in 0..200 {
            let data = random_data(&mut rng, &spec);
            let got = filter.evaluate(&data);
            let want = reference(&spec, &data);
            assert_eq!(
                got,
                want,
                "round {round}: {data:x?}\nspec: {spec:#?}\nprogram:\n{}",
                disassemble(filter.instructions())
            );
        }
    }
}

/// Each operator at the boundaries of each 32-bit half, on a 64-bit ABI and on a 32-bit one.
#[test]
fn operator_boundaries() {
    let probes = |v: u64| {
        let mut p = vec![v, v.wrapping_add(1), v.wrapping_sub(1)];
        p.extend([
            v ^ 1 << 32,
            v ^ 1,
            v ^ 1 << 63,
            v & 0xffff_ffff,
            v | 0xffff_ffff << 32,
        ]);
        p.extend(EDGES);
        p
    };
    for &op in OPS {
        for &v in EDGES {
            for value_two in [0, v, !v, 0x1234_5678_9abc_def0] {
                let spec = Seccomp {
                    default_action: SeccompAction::Errno,
                    default_errno_ret: Some(1),
                    architectures: vec![SeccompArch::X86, SeccompArch::X32],
                    flags: Vec::new(),
                    listener_path: None,
                    listener_metadata: None,
                    syscalls: vec![SeccompSyscall {
                        names: vec!["ioctl".into()],
                        action: SeccompAction::Allow,
                        errno_ret: None,
                        args: vec![SeccompArg {
                            index: 3,
                            value: v,
                            value_two,
                            op,
                        }],
                    }],
                };
                let filter = compile(&spec).unwrap();
                for arch in [SeccompArch::X86_64, SeccompArch::X86, SeccompArch::X32] {
                    for arg in probes(v) {
                        let data = SeccompData {
                            nr: syscall_number(arch, "ioctl").unwrap(),
                            arch: audit_arch(arch).unwrap(),
                            instruction_pointer: 0,
                            args: [0, 0, 0, arg, 0, 0],
                        };
                        assert_eq!(
                            filter.evaluate(&data),
                            reference(&spec, &data),
                            "{op:?} value {v:#x} value_two {value_two:#x} arg {arg:#x} {arch:?}"
                        );
                    }
                }
            }
        }
    }
}

/// Spot checks of 64-bit semantics, stated without the reference evaluator.
#[test]
fn sixty_four_bit_comparisons() {
    let rule = |op, value, value_two| Seccomp {
        default_action: SeccompAction::Allow,
        default_errno_ret: None,
        architectures: vec![SeccompArch::X86],
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls: vec![SeccompSyscall {
            names: vec!["kill".into()],
            action: SeccompAction::Errno,
            errno_ret: Some(42),
            args: vec![SeccompArg {
                index: 1,
                value,
                value_two,
                op,
            }],
        }],
    };
    let denied = libc::SECCOMP_RET_ERRNO | 42;
    let allowed = libc::SECCOMP_RET_ALLOW;
    let check = |spec: &Seccomp, arch: SeccompArch, arg: u64| {
        let filter = compile(spec).unwrap();
        filter.evaluate(&SeccompData {
            nr: syscall_number(arch, "kill").unwrap(),
            arch: audit_arch(arch).unwrap(),
            instruction_pointer: 0,
            args: [0, arg, 0, 0, 0, 0],
        })
    };
    let gt = rule(SeccompOp::GreaterThan, 0x1_0000_0000, 0);
    assert_eq!(check(&gt, SeccompArch::X86_64, 0x1_0000_0001), denied);
    assert_eq!(check(&gt, SeccompArch::X86_64, 0x1_0000_0000), allowed);
    assert_eq!(check(&gt, SeccompArch::X86_64, 0xffff_ffff), allowed);
    assert_eq!(check(&gt, SeccompArch::X86_64, 0x2_0000_0000), denied);
    // i386 compares the low word: value 0x1_0000_0000 is 0 there.
    assert_eq!(check(&gt, SeccompArch::X86, 1), denied);
    assert_eq!(check(&gt, SeccompArch::X86, 0), allowed);

    let lt = rule(SeccompOp::LessThan, 0x1_0000_0000, 0);
    assert_eq!(check(&lt, SeccompArch::X86_64, 0xffff_ffff), denied);
    assert_eq!(check(&lt, SeccompArch::X86_64, 0x1_0000_0000), allowed);
    assert_eq!(check(&lt, SeccompArch::X86_64, 0x1_ffff_ffff), allowed);

    let le = rule(SeccompOp::LessOrEqual, 0x1_0000_0005, 0);
    assert_eq!(check(&le, SeccompArch::X86_64, 0x1_0000_0005), denied);
    assert_eq!(check(&le, SeccompArch::X86_64, 0x0_ffff_ffff), denied);
    assert_eq!(check(&le, SeccompArch::X86_64, 0x1_0000_0006), allowed);

    let ge = rule(SeccompOp::GreaterOrEqual, 0xffff_ffff_0000_0000, 0);
    assert_eq!(check(&ge, SeccompArch::X86_64, 0xffff_ffff_0000_0000), denied);
    assert_eq!(check(&ge, SeccompArch::X86_64, 0xffff_fffe_ffff_ffff), allowed);

    let ne = rule(SeccompOp::NotEqual, 0x1_0000_0000, 0);
    assert_eq!(check(&ne, SeccompArch::X86_64, 0), denied);
    assert_eq!(check(&ne, SeccompArch::X86_64, 0x1_0000_0000), allowed);

    let eq = rule(SeccompOp::Equal, 0x1_0000_0000, 0);
    assert_eq!(check(&eq, SeccompArch::X86_64, 0), allowed);
    assert_eq!(check(&eq, SeccompArch::X86_64, 0x1_0000_0000), denied);

    // MASKED_EQ: value is the mask, valueTwo the expected bits.
    let masked = rule(
        SeccompOp::MaskedEqual,
        0xff00_0000_0000_00ff,
        0x1200_0000_0000_0034,
    );
    assert_eq!(check(&masked, SeccompArch::X86_64, 0x12ab_cdef_0123_4534), denied);
    assert_eq!(
        check(&masked, SeccompArch::X86_64, 0x13ab_cdef_0123_4534),
        allowed
    );
    assert_eq!(
        check(&masked, SeccompArch::X86_64, 0x12ab_cdef_0123_4535),
        allowed
    );
    // An empty mask always matches (libseccomp drops the condition).
    let empty = rule(SeccompOp::MaskedEqual, 0, 7);
    assert_eq!(check(&empty, SeccompArch::X86_64, 12345), denied);
    // On i386 a mask with only high bits is empty.
    let high = rule(SeccompOp::MaskedEqual, 0xff_0000_0000, 0);
    assert_eq!(check(&high, SeccompArch::X86, 12345), denied);
    assert_eq!(check(&high, SeccompArch::X86_64, 0x1_0000_0000), allowed);
}

#[test]
fn foreign_audit_arches_are_killed() {
    let spec = Seccomp {
        default_action: SeccompAction::Allow,
        default_errno_ret: None,
        architectures: vec![],
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls: vec![],
    };
    let filter = compile(&spec).unwrap();
    for arch in [AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, 0] {
        let d = SeccompData {
            nr: 1,
            arch,
            ..Default::default()
        };
        assert_eq!(filter.evaluate(&d), libc::SECCOMP_RET_KILL_THREAD, "{arch:#x}");
    }
    let native = SeccompData {
        nr: 1,
        arch: AUDIT_ARCH_X86_64,
        ..Default::default()
    };
    if cfg!(target_arch = "x86_64") {
        assert_eq!(filter.evaluate(&native), libc::SECCOMP_RET_ALLOW);
    }
}
