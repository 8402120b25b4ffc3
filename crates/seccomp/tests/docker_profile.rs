//! Docker's default profile, compiled and evaluated in userspace.
#![cfg(target_arch = "x86_64")]

mod common;

use berth_oci::SeccompArch::{self, X32, X86, X86_64};
use berth_seccomp::{compile, disassemble, evaluate, Filter, SeccompData, AUDIT_ARCH_AARCH64};
use common::*;

const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWNS: u64 = 0x0002_0000;
const CLONE_THREAD_FLAGS: u64 = 0x003d_0f00; // what glibc's pthread_create passes
const SIGCHLD: u64 = 17;

fn docker() -> Filter {
    compile(&docker_profile(DOCKER_DEFAULT_CAPS)).expect("Docker's profile compiles")
}

fn run(filter: &Filter, arch: SeccompArch, name: &str, args: [u64; 6]) -> u32 {
    filter.evaluate(&data(arch, name, args))
}

#[test]
fn fits_the_kernel_limit() {
    let filter = docker();
    let len = filter.instructions().len();
    assert!(len < 4096, "{len} instructions");
    // Eyeball-able size budget: a linear scan of ~350 names per ABI would exceed this.
    assert!(
        len < 1200,
        "{len} instructions:\n{}",
        disassemble(filter.instructions())
    );
    assert_eq!(filter.flags(), 0);
}

#[test]
fn decides_in_logarithmic_steps() {
    // Count instructions executed: the longest path must stay far below a linear scan.
    let filter = docker();
    let prog = filter.instructions();
    let mut longest = 0;
    for arch in [X86_64, X86, X32] {
        let audit = berth_seccomp::audit_arch(arch).unwrap();
        let base = if arch == X32 { 0x4000_0000 } else { 0 };
        for nr in (base..base + 600).chain([u32::MAX, 0x8000_0000]) {
            let steps = steps(
                prog,
                &SeccompData {
                    nr,
                    arch: audit,
                    ..Default::default()
                },
            );
            longest = longest.max(steps);
        }
    }
    assert!(longest <= 40, "longest path {longest} instructions");
}

/// Instructions executed (argument-free paths), by walking the program like the interpreter.
fn steps(prog: &[libc::sock_filter], data: &SeccompData) -> usize {
    let mut pc = 0;
    let mut a = 0u32;
    let mut count = 0;
    loop {
        let i = prog[pc];
        count += 1;
        pc += 1;
        match i.code {
            0x20 => {
                a = match i.k {
                    0 => data.nr,
                    4 => data.arch,
                    _ => 0,
                }
            }
            0x54 => a &= i.k,
            0x05 => pc += i.k as usize,
            0x06 => return count,
            code => {
                let taken = match code & 0xf0 {
                    0x10 => a == i.k,
                    0x20 => a > i.k,
                    0x30 => a >= i.k,
                    _ => a & i.k != 0,
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
        }
    }
}

#[test]
fn everyday_syscalls_are_allowed() {
    let filter = docker();
    for name in [
        "read",
        "write",
        "openat",
        "mmap",
        "futex",
        "execve",
        "exit_group",
        "arch_prctl",
    ] {
        assert_eq!(run(&filter, X86_64, name, [0; 6]), ALLOW, "{name}");
    }
    // chroot needs CAP_SYS_CHROOT, in Docker's default set.
    assert_eq!(run(&filter, X86_64, "chroot", [0; 6]), ALLOW);
}

#[test]
fn privileged_syscalls_get_eperm() {
    let filter = docker();
    for name in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "reboot",
        "init_module",
        "bpf",
        "kexec_load",
    ] {
        assert_eq!(run(&filter, X86_64, name, [0; 6]), errno(libc::EPERM), "{name}");
    }
}

#[test]
fn clone_is_allowed_without_namespace_flags() {
    let filter = docker();
    assert_eq!(run(&filter, X86_64, "clone", [SIGCHLD, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        run(&filter, X86_64, "clone", [CLONE_THREAD_FLAGS, 1, 2, 3, 4, 5]),
        ALLOW
    );
    for flags in [CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWUSER | SIGCHLD] {
        assert_eq!(
            run(&filter, X86_64, "clone", [flags, 0, 0, 0, 0, 0]),
            errno(libc::EPERM)
        );
    }
    // The flags argument is an unsigned long: namespace bits above 32 bits are not namespace
    // flags, and the mask has no high bits, so the high word is not compared.
    assert_eq!(
        run(&filter, X86_64, "clone", [1 << 40 | SIGCHLD, 0, 0, 0, 0, 0]),
        ALLOW
    );
    // On i386 the same rule applies to the low word.
    assert_eq!(run(&filter, X86, "clone", [SIGCHLD, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        run(&filter, X86, "clone", [CLONE_NEWUSER, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    // clone3 cannot be filtered on its flags (they are behind a pointer): Docker answers ENOSYS
    // so that libc falls back to clone.
    assert_eq!(run(&filter, X86_64, "clone3", [0; 6]), errno(libc::ENOSYS));
}

#[test]
fn clone_with_cap_sys_admin_is_unconditional() {
    let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    let filter = compile(&docker_profile(&caps)).unwrap();
    assert_eq!(
        run(&filter, X86_64, "clone", [CLONE_NEWUSER, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(run(&filter, X86_64, "mount", [0; 6]), ALLOW);
    assert_eq!(run(&filter, X86_64, "clone3", [0; 6]), ALLOW);
}

#[test]
fn personality_rules() {
    let filter = docker();
    for persona in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert_eq!(
            run(&filter, X86_64, "personality", [persona, 0, 0, 0, 0, 0]),
            ALLOW
        );
    }
    for persona in [
        1,
        0x0040_0000, /* ADDR_NO_RANDOMIZE */
        0x1_0000_0000,
        0xffff_ffff_ffff_ffff,
    ] {
        assert_eq!(
            run(&filter, X86_64, "personality", [persona, 0, 0, 0, 0, 0]),
            errno(libc::EPERM),
            "{persona:#x}"
        );
    }
    // 32-bit ABIs compare the low word only.
    assert_eq!(
        run(&filter, X86, "personality", [0x1_0000_0000, 0, 0, 0, 0, 0]),
        ALLOW
    );
}

#[test]
fn socket_families() {
    let filter = docker();
    for (family, want) in [
        (libc::AF_INET, ALLOW),
        (libc::AF_NETLINK, ALLOW),
        (38, errno(libc::EPERM)), // AF_ALG
        (39, ALLOW),
        (40, errno(libc::EPERM)), // AF_VSOCK
        (41, ALLOW),
    ] {
        let args = [family as u64, 0, 0, 0, 0, 0];
        assert_eq!(run(&filter, X86_64, "socket", args), want, "family {family}");
    }
    // A 64-bit value whose low word is a forbidden family is not that family.
    assert_eq!(
        run(&filter, X86_64, "socket", [1 << 32 | 40, 0, 0, 0, 0, 0]),
        ALLOW
    );
}

#[test]
fn other_abis_follow_the_architectures_list() {
    let filter = docker();
    // i386 and x32 are listed for amd64: their own syscalls are allowed, privileged ones denied.
    assert_eq!(run(&filter, X86, "read", [0; 6]), ALLOW);
    assert_eq!(run(&filter, X86, "socketcall", [0; 6]), ALLOW);
    assert_eq!(run(&filter, X86, "chown32", [0; 6]), ALLOW);
    assert_eq!(run(&filter, X86, "mount", [0; 6]), errno(libc::EPERM));
    assert_eq!(run(&filter, X32, "read", [0; 6]), ALLOW);
    assert_eq!(run(&filter, X32, "rt_sigaction", [0; 6]), ALLOW);
    assert_eq!(run(&filter, X32, "mount", [0; 6]), errno(libc::EPERM));
    // An aarch64 syscall cannot happen here and is not listed: bad architecture, killed.
    let foreign = SeccompData {
        nr: 63,
        arch: AUDIT_ARCH_AARCH64,
        ..Default::default()
    };
    assert_eq!(filter.evaluate(&foreign), KILL_THREAD);
    let unknown = SeccompData {
        nr: 0,
        arch: 0x1234,
        ..Default::default()
    };
    assert_eq!(filter.evaluate(&unknown), KILL_THREAD);
}

#[test]
fn without_x32_its_numbers_are_killed() {
    let mut spec = docker_profile(DOCKER_DEFAULT_CAPS);
    spec.architectures = vec![X86_64];
    let filter = compile(&spec).unwrap();
    // x32 numbers do not slip through the x86_64 rules (read is 0 | X32_SYSCALL_BIT).
    assert_eq!(filter.evaluate(&data(X32, "read", [0; 6])), KILL_THREAD);
    // -1, which a tracer uses to skip a syscall, is not an x32 syscall.
    let skip = SeccompData {
        nr: u32::MAX,
        arch: berth_seccomp::AUDIT_ARCH_X86_64,
        ..Default::default()
    };
    assert_eq!(filter.evaluate(&skip), errno(libc::EPERM));
    // i386 is no longer listed.
    assert_eq!(filter.evaluate(&data(X86, "read", [0; 6])), KILL_THREAD);
    assert_eq!(run(&filter, X86_64, "read", [0; 6]), ALLOW);
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let filter = docker();
    let spec = docker_profile(DOCKER_DEFAULT_CAPS);
    for arch in [X86_64, X86, X32] {
        let max = spec
            .syscalls
            .iter()
            .flat_map(|s| &s.names)
            .filter_map(|n| berth_seccomp::syscall_number(arch, n))
            .max()
            .unwrap();
        let audit = berth_seccomp::audit_arch(arch).unwrap();
        let at = |nr| {
            filter.evaluate(&SeccompData {
                nr,
                arch: audit,
                ..Default::default()
            })
        };
        assert_eq!(at(max + 1), errno(libc::ENOSYS), "{arch:?}");
        assert_eq!(at(max + 1000), errno(libc::ENOSYS), "{arch:?}");
        assert_ne!(at(max), errno(libc::ENOSYS), "{arch:?}");
    }
    // An allow-by-default profile has no stub.
    let mut spec = docker_profile(DOCKER_DEFAULT_CAPS);
    spec.default_action = berth_oci::SeccompAction::Allow;
    spec.default_errno_ret = None;
    let filter = compile(&spec).unwrap();
    let far = SeccompData {
        nr: 5000,
        arch: berth_seccomp::AUDIT_ARCH_X86_64,
        ..Default::default()
    };
    assert_eq!(filter.evaluate(&far), ALLOW);
}

#[test]
fn matches_the_reference_everywhere() {
    // Every syscall number near the tables on every ABI, with a few argument patterns.
    let spec = docker_profile(DOCKER_DEFAULT_CAPS);
    let filter = compile(&spec).unwrap();
    let args_list: [[u64; 6]; 5] = [
        [0; 6],
        [CLONE_NEWUSER, 0, 0, 0, 0, 0],
        [40, 1, 0, 0, 0, 0],
        [0xffff_ffff, 0, 0, 0, 0, 0],
        [u64::MAX; 6],
    ];
    for audit in [
        berth_seccomp::AUDIT_ARCH_X86_64,
        berth_seccomp::AUDIT_ARCH_I386,
        AUDIT_ARCH_AARCH64,
    ] {
        let numbers = (0..1100u32).chain(0x4000_0000..0x4000_0300).chain([
            0x3fff_ffff,
            0x7fff_ffff,
            0x8000_0000,
            0xbfff_ffff,
            0xc000_0000,
            u32::MAX,
        ]);
        for nr in numbers {
            for args in args_list {
                let d = SeccompData {
                    nr,
                    arch: audit,
                    instruction_pointer: 0,
                    args,
                };
                assert_eq!(
                    evaluate(filter.instructions(), &d),
                    reference(&spec, &d),
                    "{d:x?}"
                );
            }
        }
    }
}
