//! The eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) that enforces device rules on cgroup v2.
//!
//! Layout, as runc's devicefilter (itself from crun):
//!
//! ```text
//!   r2 = ctx->access_type & 0xffff     device type (BPF_DEVCG_DEV_BLOCK 1, _CHAR 2)
//!   r3 = ctx->access_type >> 16        requested access (BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4)
//!   r4 = ctx->major; r5 = ctx->minor
//!   per exception:  if r2 != type goto next
//!                   if (r3 & perms) != r3 goto next     (omitted for rwm)
//!                   if r4 != major goto next            (omitted for a wildcard)
//!                   if r5 != minor goto next            (omitted for a wildcard)
//!                   return !default
//!   return default
//! ```
// Ref: runc (opencontainers/cgroups) devices/devicefilter.go; include/uapi/linux/bpf.h
// struct bpf_cgroup_dev_ctx.

use std::fmt;

use super::emulator::Emulator;
use super::{DevType, Perms, RuleType};
use crate::error::CgroupError;

pub(crate) const BPF_LDX_MEM_W: u8 = 0x61;
pub(crate) const BPF_ALU32_AND_K: u8 = 0x54;
pub(crate) const BPF_ALU32_RSH_K: u8 = 0x74;
pub(crate) const BPF_ALU32_MOV_K: u8 = 0xb4;
pub(crate) const BPF_ALU32_MOV_X: u8 = 0xbc;
pub(crate) const BPF_JNE_K: u8 = 0x55;
pub(crate) const BPF_JNE_X: u8 = 0x5d;
pub(crate) const BPF_EXIT: u8 = 0x95;

pub(crate) const BPF_DEVCG_DEV_BLOCK: i32 = 1;
pub(crate) const BPF_DEVCG_DEV_CHAR: i32 = 2;

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub(crate) code: u8,
    pub(crate) dst: u8,
    pub(crate) src: u8,
    pub(crate) off: i16,
    pub(crate) imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The kernel's encoding: code, dst in the low nibble and src in the high nibble of byte 1
    /// (little-endian bitfield order), off, imm, native endian.
    pub(crate) fn encode(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0x0f) | (self.src << 4);
        b[2..4].copy_from_slice(&self.off.to_ne_bytes());
        b[4..8].copy_from_slice(&self.imm.to_ne_bytes());
        b
    }
}

impl fmt::Display for Insn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, s, o, i) = (self.dst, self.src, self.off, self.imm);
        match self.code {
            BPF_LDX_MEM_W => write!(f, "r{d} = *(u32 *)(r{s} + {o})"),
            BPF_ALU32_AND_K => write!(f, "w{d} &= {i:#x}"),
            BPF_ALU32_RSH_K => write!(f, "w{d} >>= {i}"),
            BPF_ALU32_MOV_K => write!(f, "w{d} = {i}"),
            BPF_ALU32_MOV_X => write!(f, "w{d} = w{s}"),
            BPF_JNE_K => write!(f, "if r{d} != {i} goto +{o}"),
            BPF_JNE_X => write!(f, "if r{d} != r{s} goto +{o}"),
            BPF_EXIT => write!(f, "exit"),
            c => write!(f, "op {c:#x} dst {d} src {s} off {o} imm {i}"),
        }
    }
}

/// Generates the filter for the emulated rule set.
pub(crate) fn device_filter(emu: &Emulator) -> Result<Vec<Insn>, CgroupError> {
    let default_allow = emu.is_blacklist();
    let internal = |m: String| CgroupError::InvalidResource(format!("device filter: {m}"));
    let mut p = vec![
        Insn::new(BPF_LDX_MEM_W, 2, 1, 0, 0),
        Insn::new(BPF_ALU32_AND_K, 2, 0, 0, 0xffff),
        Insn::new(BPF_LDX_MEM_W, 3, 1, 0, 0),
        Insn::new(BPF_ALU32_RSH_K, 3, 0, 0, 16),
        Insn::new(BPF_LDX_MEM_W, 4, 1, 4, 0),
        Insn::new(BPF_LDX_MEM_W, 5, 1, 8, 0),
    ];
    for (idx, rule) in emu.rules().iter().enumerate() {
        let RuleType::Dev(typ) = rule.typ else {
            // Only the leading allow-all of an allow-by-default set; the default action covers it.
            if idx != 0 || rule.allow != default_allow {
                return Err(internal(format!(
                    "misplaced wildcard rule `{}`",
                    rule.cgroup_string()
                )));
            }
            continue;
        };
        if rule.allow == default_allow {
            return Err(internal(format!("no-op rule `{}`", rule.cgroup_string())));
        }
        // Each check jumps to the next block; offsets are fixed once the block's length is known.
        let mut block: Vec<Insn> = Vec::with_capacity(8);
        let bpf_type = match typ {
            DevType::Block => BPF_DEVCG_DEV_BLOCK,
            DevType::Char => BPF_DEVCG_DEV_CHAR,
        };
        block.push(Insn::new(BPF_JNE_K, 2, 0, 0, bpf_type));
        if rule.perms != Perms::ALL {
            block.push(Insn::new(BPF_ALU32_MOV_X, 1, 3, 0, 0));
            block.push(Insn::new(BPF_ALU32_AND_K, 1, 0, 0, rule.perms.0 as i32));
            block.push(Insn::new(BPF_JNE_X, 1, 3, 0, 0));
        }
        if rule.major >= 0 {
            block.push(Insn::new(BPF_JNE_K, 4, 0, 0, rule.major as u32 as i32));
        }
        if rule.minor >= 0 {
            block.push(Insn::new(BPF_JNE_K, 5, 0, 0, rule.minor as u32 as i32));
        }
        block.push(Insn::new(BPF_ALU32_MOV_K, 0, 0, 0, rule.allow as i32));
        block.push(Insn::new(BPF_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            if matches!(insn.code, BPF_JNE_K | BPF_JNE_X) {
                insn.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(Insn::new(BPF_ALU32_MOV_K, 0, 0, 0, default_allow as i32));
    p.push(Insn::new(BPF_EXIT, 0, 0, 0, 0));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{default_allowed_devices, rules_from_oci};

    fn listing(emu: &Emulator) -> Vec<String> {
        device_filter(emu)
            .unwrap()
            .iter()
            .map(|i| i.to_string())
            .collect()
    }

    const PROLOGUE: [&str; 6] = [
        "r2 = *(u32 *)(r1 + 0)",
        "w2 &= 0xffff",
        "r3 = *(u32 *)(r1 + 0)",
        "w3 >>= 16",
        "r4 = *(u32 *)(r1 + 4)",
        "r5 = *(u32 *)(r1 + 8)",
    ];

    #[test]
    fn no_rules_rejects_everything() {
        let mut want: Vec<&str> = PROLOGUE.to_vec();
        want.extend(["w0 = 0", "exit"]);
        assert_eq!(listing(&Emulator::default()), want);
    }

    /// Same instruction sequence as runc's TestDeviceFilter_BuiltInAllowList (first blocks).
    #[test]
    fn builtin_allow_list_matches_runc() {
        let mut emu = Emulator::default();
        for r in rules_from_oci(&default_allowed_devices()).unwrap() {
            emu.apply(&r).unwrap();
        }
        let got = listing(&emu);
        assert_eq!(got[..6], PROLOGUE);
        assert_eq!(
            got[6..18],
            [
                // (b, *, *, m)
                "if r2 != 1 goto +5",
                "w1 = w3",
                "w1 &= 0x1",
                "if r1 != r3 goto +2",
                "w0 = 1",
                "exit",
                // (c, *, *, m)
                "if r2 != 2 goto +5",
                "w1 = w3",
                "w1 &= 0x1",
                "if r1 != r3 goto +2",
                "w0 = 1",
                "exit",
            ]
        );
        assert_eq!(
            got[18..23],
            [
                "if r2 != 2 goto +4",
                "if r4 != 1 goto +3",
                "if r5 != 3 goto +2",
                "w0 = 1",
                "exit"
            ]
        );
        // 11 rules; 2 with an access check (6 insns), 1 with a wildcard minor (4), 8 full (5).
        assert_eq!(got.len(), 6 + 2 * 6 + 4 + 8 * 5 + 2);
        assert_eq!(got[got.len() - 2..], ["w0 = 0", "exit"]);
    }

    #[test]
    fn encoding_puts_dst_low_src_high() {
        let i = Insn::new(BPF_JNE_X, 1, 3, 2, 0);
        let b = i.encode();
        assert_eq!(b[0], 0x5d);
        assert_eq!(b[1], 0x31);
        assert_eq!(i16::from_ne_bytes([b[2], b[3]]), 2);
    }
}
