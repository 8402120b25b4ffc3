//! Architectures the compiler has syscall tables for, and how the kernel identifies them.

use berth_oci::SeccompArch;

use crate::tables;

/// `AUDIT_ARCH_X86_64` from `<linux/audit.h>`: the `arch` of x86_64 and of x32 syscalls.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386` from `<linux/audit.h>`.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64` from `<linux/audit.h>`.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `__X32_SYSCALL_BIT`: set in the syscall number of every x32 syscall.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The architecture berth runs on: always part of the filter, as in libseccomp.
#[cfg(target_arch = "x86_64")]
pub(crate) const NATIVE: SeccompArch = SeccompArch::X86_64;
#[cfg(target_arch = "aarch64")]
pub(crate) const NATIVE: SeccompArch = SeccompArch::Aarch64;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("berth-seccomp has syscall tables for x86_64 and aarch64 hosts only");

/// How many bits of an argument a rule compares.
///
/// libseccomp builds 64-bit comparisons (high word, then low word) for 64-bit ABIs and compares only
/// the low word for 32-bit ABIs, x32 included (`arch_def_x32.size` is `ARCH_SIZE_32`).
// Ref: libseccomp src/db.c _db_rule_gen_64() and _db_rule_gen_32()
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    W32,
    W64,
}

/// A syscall's numbers on every architecture with a table (a row of the generated table).
pub(crate) type Numbers = [u32; 4];

/// The numbers of syscall `name`, if any architecture has it.
pub(crate) fn lookup(name: &str) -> Option<&'static Numbers> {
    let i = tables::SYSCALLS.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
    Some(&tables::SYSCALLS[i].1)
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ArchInfo {
    pub arch: SeccompArch,
    pub audit: u32,
    pub width: Width,
    column: usize,
}

impl ArchInfo {
    pub fn get(arch: SeccompArch) -> Option<ArchInfo> {
        let (audit, width, column) = match arch {
            SeccompArch::X86_64 => (AUDIT_ARCH_X86_64, Width::W64, tables::X86_64),
            SeccompArch::X32 => (AUDIT_ARCH_X86_64, Width::W32, tables::X32),
            SeccompArch::X86 => (AUDIT_ARCH_I386, Width::W32, tables::X86),
            SeccompArch::Aarch64 => (AUDIT_ARCH_AARCH64, Width::W64, tables::AARCH64),
            _ => return None,
        };
        Some(ArchInfo {
            arch,
            audit,
            width,
            column,
        })
    }

    /// This architecture's number in a row from [`lookup`]: the number the kernel puts in
    /// `seccomp_data.nr` (x32 numbers carry [`X32_SYSCALL_BIT`]).
    pub fn pick(&self, numbers: &Numbers) -> Option<u32> {
        Some(numbers[self.column]).filter(|n| *n != tables::NONE)
    }

    pub fn number(&self, name: &str) -> Option<u32> {
        self.pick(lookup(name)?)
    }
}

/// Architectures whose syscalls can reach a filter on this host; listing one we have no table for
/// is an error, while any other architecture can never be seen and is left out of the program.
pub(crate) fn reachable_on_host(arch: SeccompArch) -> bool {
    match NATIVE {
        SeccompArch::X86_64 => matches!(arch, SeccompArch::X86_64 | SeccompArch::X86 | SeccompArch::X32),
        _ => matches!(arch, SeccompArch::Aarch64 | SeccompArch::Arm),
    }
}

/// The `AUDIT_ARCH_*` value the kernel reports in `seccomp_data.arch` for `arch`, for the
/// architectures this crate has tables for.
pub fn audit_arch(arch: SeccompArch) -> Option<u32> {
    ArchInfo::get(arch).map(|a| a.audit)
}

/// The syscall number of `name` on `arch`, as the kernel reports it in `seccomp_data.nr`: x32
/// numbers include [`X32_SYSCALL_BIT`]. `None` when the name is not a syscall of that
/// architecture (in the Linux headers the tables were generated from) or when this crate has no
/// table for the architecture.
pub fn syscall_number(arch: SeccompArch, name: &str) -> Option<u32> {
    ArchInfo::get(arch)?.number(name)
}

/// The OCI spelling of an architecture, for error messages.
pub(crate) fn arch_name(arch: SeccompArch) -> &'static str {
    match arch {
        SeccompArch::X86 => "SCMP_ARCH_X86",
        SeccompArch::X86_64 => "SCMP_ARCH_X86_64",
        SeccompArch::X32 => "SCMP_ARCH_X32",
        SeccompArch::Arm => "SCMP_ARCH_ARM",
        SeccompArch::Aarch64 => "SCMP_ARCH_AARCH64",
        SeccompArch::Mips => "SCMP_ARCH_MIPS",
        SeccompArch::Mips64 => "SCMP_ARCH_MIPS64",
        SeccompArch::Mips64n32 => "SCMP_ARCH_MIPS64N32",
        SeccompArch::Mipsel => "SCMP_ARCH_MIPSEL",
        SeccompArch::Mipsel64 => "SCMP_ARCH_MIPSEL64",
        SeccompArch::Mipsel64n32 => "SCMP_ARCH_MIPSEL64N32",
        SeccompArch::Ppc => "SCMP_ARCH_PPC",
        SeccompArch::Ppc64 => "SCMP_ARCH_PPC64",
        SeccompArch::Ppc64le => "SCMP_ARCH_PPC64LE",
        SeccompArch::S390 => "SCMP_ARCH_S390",
        SeccompArch::S390x => "SCMP_ARCH_S390X",
        SeccompArch::Parisc => "SCMP_ARCH_PARISC",
        SeccompArch::Parisc64 => "SCMP_ARCH_PARISC64",
        SeccompArch::Riscv64 => "SCMP_ARCH_RISCV64",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(tables::SYSCALLS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn numbers_are_unique_per_architecture() {
        for column in [tables::X86_64, tables::X86, tables::X32, tables::AARCH64] {
            let mut numbers: Vec<u32> = tables::SYSCALLS
                .iter()
                .map(|(_, n)| n[column])
                .filter(|n| *n != tables::NONE)
                .collect();
            let count = numbers.len();
            numbers.sort_unstable();
            numbers.dedup();
            assert_eq!(numbers.len(), count, "column {column}");
        }
    }

    #[test]
    fn known_numbers() {
        assert_eq!(syscall_number(SeccompArch::X86_64, "read"), Some(0));
        assert_eq!(syscall_number(SeccompArch::X86_64, "clone"), Some(56));
        assert_eq!(syscall_number(SeccompArch::X86, "clone"), Some(120));
        assert_eq!(syscall_number(SeccompArch::X86, "socketcall"), Some(102));
        assert_eq!(syscall_number(SeccompArch::X32, "read"), Some(X32_SYSCALL_BIT));
        assert_eq!(
            syscall_number(SeccompArch::X32, "rt_sigaction"),
            Some(X32_SYSCALL_BIT | 512)
        );
        assert_eq!(syscall_number(SeccompArch::Aarch64, "openat"), Some(56));
        assert_eq!(syscall_number(SeccompArch::Aarch64, "open"), None);
        assert_eq!(syscall_number(SeccompArch::X86_64, "chown32"), None);
        assert_eq!(syscall_number(SeccompArch::Arm, "read"), None);
    }
}
