//! Classic BPF: an assembler with symbolic labels, a userspace interpreter and a disassembler.

use std::fmt::Write as _;

use libc::sock_filter;

// Ref: <linux/bpf_common.h>
pub(crate) const BPF_LD: u16 = 0x00;
const BPF_LDX: u16 = 0x01;
const BPF_ST: u16 = 0x02;
const BPF_STX: u16 = 0x03;
pub(crate) const BPF_ALU: u16 = 0x04;
pub(crate) const BPF_JMP: u16 = 0x05;
pub(crate) const BPF_RET: u16 = 0x06;
const BPF_MISC: u16 = 0x07;

pub(crate) const BPF_W: u16 = 0x00;

const BPF_IMM: u16 = 0x00;
pub(crate) const BPF_ABS: u16 = 0x20;
const BPF_MEM: u16 = 0x60;
const BPF_LEN: u16 = 0x80;

const BPF_ADD: u16 = 0x00;
const BPF_SUB: u16 = 0x10;
const BPF_MUL: u16 = 0x20;
const BPF_DIV: u16 = 0x30;
const BPF_OR: u16 = 0x40;
pub(crate) const BPF_AND: u16 = 0x50;
const BPF_LSH: u16 = 0x60;
const BPF_RSH: u16 = 0x70;
const BPF_NEG: u16 = 0x80;
const BPF_MOD: u16 = 0x90;
const BPF_XOR: u16 = 0xa0;

pub(crate) const BPF_JA: u16 = 0x00;
pub(crate) const BPF_JEQ: u16 = 0x10;
pub(crate) const BPF_JGT: u16 = 0x20;
pub(crate) const BPF_JGE: u16 = 0x30;
pub(crate) const BPF_JSET: u16 = 0x40;

pub(crate) const BPF_K: u16 = 0x00;
const BPF_X: u16 = 0x08;
const BPF_A: u16 = 0x10;

const BPF_TAX: u16 = 0x00;
const BPF_TXA: u16 = 0x80;

const BPF_MEMWORDS: usize = 16;

/// Size of `struct seccomp_data`: the only packet a seccomp filter can load from.
pub(crate) const SECCOMP_DATA_SIZE: u32 = 64;
/// Offsets into `struct seccomp_data`.
pub(crate) const OFFSET_NR: u32 = 0;
pub(crate) const OFFSET_ARCH: u32 = 4;
pub(crate) const OFFSET_ARGS: u32 = 16;

/// The input of a seccomp filter (`struct seccomp_data`), for [`evaluate`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// The syscall number as the kernel reports it (x32 syscalls carry `X32_SYSCALL_BIT`; the
    /// kernel's `int` -1 is `u32::MAX`).
    pub nr: u32,
    /// An `AUDIT_ARCH_*` value.
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte `offset`, laid out as on a little-endian machine, which every
    /// architecture this crate compiles for is.
    fn word(&self, offset: u32) -> Option<u32> {
        if offset & 3 != 0 || offset + 4 > SECCOMP_DATA_SIZE {
            return None;
        }
        let w = match offset {
            0 => self.nr,
            4 => self.arch,
            8 => self.instruction_pointer as u32,
            12 => (self.instruction_pointer >> 32) as u32,
            _ => {
                let arg = self.args[(offset - OFFSET_ARGS) as usize / 8];
                if offset & 4 == 0 {
                    arg as u32
                } else {
                    (arg >> 32) as u32
                }
            }
        };
        Some(w)
    }
}

/// Runs a classic BPF program on `data` the way the kernel runs a seccomp filter, and returns the
/// filter's verdict (`SECCOMP_RET_*` action in the high 16 bits, data in the low 16).
///
/// A program the kernel would refuse (a load outside `seccomp_data`, a jump past the end, an
/// instruction seccomp does not allow, no `ret` on the path taken) yields
/// `SECCOMP_RET_KILL_PROCESS`; a division by zero returns 0, as in the kernel.
pub fn evaluate(prog: &[sock_filter], data: &SeccompData) -> u32 {
    run(prog, data).unwrap_or(libc::SECCOMP_RET_KILL_PROCESS)
}

fn run(prog: &[sock_filter], data: &SeccompData) -> Option<u32> {
    let mut a: u32 = 0;
    let mut x: u32 = 0;
    let mut mem = [0u32; BPF_MEMWORDS];
    let mut pc = 0usize;
    loop {
        let insn = prog.get(pc)?;
        pc += 1;
        let k = insn.k;
        match insn.code & 0x07 {
            BPF_LD => {
                a = match insn.code & 0xe0 {
                    BPF_ABS if insn.code & 0x18 == BPF_W => data.word(k)?,
                    BPF_IMM => k,
                    BPF_MEM => *mem.get(k as usize)?,
                    BPF_LEN => SECCOMP_DATA_SIZE,
                    _ => return None,
                }
            }
            BPF_LDX => {
                x = match insn.code & 0xe0 {
                    BPF_IMM => k,
                    BPF_MEM => *mem.get(k as usize)?,
                    BPF_LEN => SECCOMP_DATA_SIZE,
                    _ => return None,
                }
            }
            BPF_ST => *mem.get_mut(k as usize)? = a,
            BPF_STX => *mem.get_mut(k as usize)? = x,
            BPF_ALU => {
                let operand = if insn.code & BPF_X != 0 { x } else { k };
                a = match insn.code & 0xf0 {
                    BPF_ADD => a.wrapping_add(operand),
                    BPF_SUB => a.wrapping_sub(operand),
                    BPF_MUL => a.wrapping_mul(operand),
                    BPF_DIV if operand == 0 => return Some(0),
                    BPF_DIV => a / operand,
                    BPF_MOD if operand == 0 => return Some(0),
                    BPF_MOD => a % operand,
                    BPF_OR => a | operand,
                    BPF_AND => a & operand,
                    BPF_XOR => a ^ operand,
                    BPF_LSH => a.checked_shl(operand).unwrap_or(0),
                    BPF_RSH => a.checked_shr(operand).unwrap_or(0),
                    BPF_NEG => a.wrapping_neg(),
                    _ => return None,
                }
            }
            BPF_JMP => {
                let op = insn.code & 0xf0;
                if op == BPF_JA {
                    pc = pc.checked_add(k as usize)?;
                    continue;
                }
                let operand = if insn.code & BPF_X != 0 { x } else { k };
                let taken = match op {
                    BPF_JEQ => a == operand,
                    BPF_JGT => a > operand,
                    BPF_JGE => a >= operand,
                    BPF_JSET => a & operand != 0,
                    _ => return None,
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
            BPF_RET => {
                return match insn.code & 0x18 {
                    BPF_K => Some(k),
                    BPF_A => Some(a),
                    _ => None,
                }
            }
            BPF_MISC => match insn.code & 0xf8 {
                BPF_TAX => x = a,
                BPF_TXA => a = x,
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// One line per instruction, in the style of `bpf_dbg`/`seccomp-tools`, for debugging.
pub fn disassemble(prog: &[sock_filter]) -> String {
    let mut out = String::new();
    for (pc, insn) in prog.iter().enumerate() {
        let k = insn.k;
        let text = match insn.code & 0x07 {
            BPF_LD if insn.code & 0xe0 == BPF_ABS => match k {
                OFFSET_NR => "ld [nr]".to_string(),
                OFFSET_ARCH => "ld [arch]".to_string(),
                8 => "ld [ip.lo]".to_string(),
                12 => "ld [ip.hi]".to_string(),
                16..=63 => format!(
                    "ld [args[{}].{}]",
                    (k - OFFSET_ARGS) / 8,
                    if k % 8 == 0 { "lo" } else { "hi" }
                ),
                _ => format!("ld [{k}]"),
            },
            BPF_ALU if insn.code & 0xf0 == BPF_AND => format!("and #{k:#x}"),
            BPF_JMP if insn.code & 0xf0 == BPF_JA => format!("ja {}", pc + 1 + k as usize),
            BPF_JMP => {
                let op = match insn.code & 0xf0 {
                    BPF_JEQ => "jeq",
                    BPF_JGT => "jgt",
                    BPF_JGE => "jge",
                    BPF_JSET => "jset",
                    _ => "j?",
                };
                format!(
                    "{op} #{k:#x} jt {} jf {}",
                    pc + 1 + usize::from(insn.jt),
                    pc + 1 + usize::from(insn.jf)
                )
            }
            BPF_RET => format!("ret #{k:#x}"),
            _ => format!("code {:#06x} jt {} jf {} k {k:#x}", insn.code, insn.jt, insn.jf),
        };
        let _ = writeln!(out, "{pc:4}: {text}");
    }
    out
}

/// A jump target whose position is fixed when the program is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Label(usize);

#[derive(Debug, Clone, Copy)]
enum Op {
    /// `ld [k]`: load a word of `seccomp_data`.
    Ld(u32),
    And(u32),
    Jmp {
        op: u16,
        k: u32,
        t: Label,
        f: Label,
    },
    Ja(Label),
    Ret(u32),
    Bind(Label),
}

/// Builds a program from instructions with symbolic, forward-only jump targets.
///
/// A conditional jump holds 8-bit offsets; [`Asm::finish`] turns any branch that lands more than
/// 255 instructions away into a conditional jump to an unconditional `ja` (32-bit offset).
#[derive(Debug, Default)]
pub(crate) struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    pub fn bind(&mut self, label: Label) {
        self.ops.push(Op::Bind(label));
    }

    pub fn ld(&mut self, offset: u32) {
        self.ops.push(Op::Ld(offset));
    }

    pub fn and(&mut self, k: u32) {
        self.ops.push(Op::And(k));
    }

    /// `if A <op> k goto t else goto f`, `op` one of `BPF_JEQ`, `BPF_JGT`, `BPF_JGE`, `BPF_JSET`.
    pub fn jmp(&mut self, op: u16, k: u32, t: Label, f: Label) {
        if t == f {
            self.ops.push(Op::Ja(t));
        } else {
            self.ops.push(Op::Jmp { op, k, t, f });
        }
    }

    pub fn ret(&mut self, k: u32) {
        self.ops.push(Op::Ret(k));
    }

    /// Resolves labels and encodes the program.
    ///
    /// # Panics
    /// On a backward jump or an unbound label: the compiler never emits either.
    pub fn finish(self) -> Vec<sock_filter> {
        // (true branch needs a trampoline, false branch needs one) for each op.
        let mut far = vec![(false, false); self.ops.len()];
        let mut start = vec![0usize; self.ops.len()];
        let mut label_pos = vec![usize::MAX; self.labels];
        // Each pass only ever turns short branches into long ones, so this terminates.
        loop {
            let mut pos = 0;
            for (i, op) in self.ops.iter().enumerate() {
                start[i] = pos;
                match op {
                    Op::Bind(l) => label_pos[l.0] = pos,
                    Op::Jmp { .. } => pos += 1 + usize::from(far[i].0) + usize::from(far[i].1),
                    _ => pos += 1,
                }
            }
            let mut changed = false;
            for (i, op) in self.ops.iter().enumerate() {
                if let Op::Jmp { t, f, .. } = op {
                    let from = start[i] + 1;
                    if !far[i].0 && distance(from, label_pos[t.0]) > 255 {
                        far[i].0 = true;
                        changed = true;
                    }
                    if !far[i].1 && distance(from, label_pos[f.0]) > 255 {
                        far[i].1 = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }

        let mut prog = Vec::with_capacity(self.ops.len());
        for (i, op) in self.ops.iter().enumerate() {
            match *op {
                Op::Bind(_) => {}
                Op::Ld(offset) => prog.push(insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, offset)),
                Op::And(k) => prog.push(insn(BPF_ALU | BPF_AND | BPF_K, 0, 0, k)),
                Op::Ret(k) => prog.push(insn(BPF_RET | BPF_K, 0, 0, k)),
                Op::Ja(t) => {
                    let d = distance(prog.len() + 1, label_pos[t.0]);
                    prog.push(insn(BPF_JMP | BPF_JA, 0, 0, d as u32));
                }
                Op::Jmp { op, k, t, f } => {
                    let from = start[i] + 1;
                    let code = BPF_JMP | op | BPF_K;
                    let (tpos, fpos) = (label_pos[t.0], label_pos[f.0]);
                    let short = |target: usize| distance(from, target) as u8;
                    match far[i] {
                        (false, false) => prog.push(insn(code, short(tpos), short(fpos), k)),
                        (true, false) => {
                            prog.push(insn(code, 0, short(fpos), k));
                            let d = distance(from + 1, tpos);
                            prog.push(insn(BPF_JMP | BPF_JA, 0, 0, d as u32));
                        }
                        (false, true) => {
                            prog.push(insn(code, short(tpos), 0, k));
                            let d = distance(from + 1, fpos);
                            prog.push(insn(BPF_JMP | BPF_JA, 0, 0, d as u32));
                        }
                        (true, true) => {
                            prog.push(insn(code, 0, 1, k));
                            let d = distance(from + 1, tpos);
                            prog.push(insn(BPF_JMP | BPF_JA, 0, 0, d as u32));
                            let d = distance(from + 2, fpos);
                            prog.push(insn(BPF_JMP | BPF_JA, 0, 0, d as u32));
                        }
                    }
                }
            }
        }
        prog
    }
}

/// Instructions skipped by a jump from `from` (the instruction after the jump) to `to`.
fn distance(from: usize, to: usize) -> usize {
    assert!(to != usize::MAX, "seccomp compiler bug: jump to an unbound label");
    to.checked_sub(from).expect("seccomp compiler bug: backward jump")
}

pub(crate) fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(nr: u32) -> SeccompData {
        SeccompData {
            nr,
            ..SeccompData::default()
        }
    }

    #[test]
    fn long_jumps_get_trampolines() {
        // if nr == 7 goto far_away; 300 filler returns; far_away: ret 42
        let mut asm = Asm::default();
        let far_away = asm.label();
        let near = asm.label();
        asm.ld(OFFSET_NR);
        asm.jmp(BPF_JEQ, 7, far_away, near);
        asm.bind(near);
        for i in 0..300 {
            asm.ret(1000 + i);
        }
        asm.bind(far_away);
        asm.ret(42);
        let prog = asm.finish();
        assert_eq!(prog.len(), 1 + 2 + 300 + 1);
        assert_eq!(evaluate(&prog, &data(7)), 42);
        assert_eq!(evaluate(&prog, &data(8)), 1000);
    }

    #[test]
    fn both_branches_far() {
        let mut asm = Asm::default();
        let (t, f) = (asm.label(), asm.label());
        asm.ld(OFFSET_NR);
        asm.jmp(BPF_JGE, 10, t, f);
        for _ in 0..300 {
            asm.ret(0);
        }
        asm.bind(f);
        for _ in 0..300 {
            asm.ret(1);
        }
        asm.bind(t);
        asm.ret(2);
        let prog = asm.finish();
        assert_eq!(evaluate(&prog, &data(10)), 2);
        assert_eq!(evaluate(&prog, &data(9)), 1);
    }

    #[test]
    fn invalid_programs_kill() {
        let kill = libc::SECCOMP_RET_KILL_PROCESS;
        // Falls off the end.
        assert_eq!(
            evaluate(&[insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, 0)], &data(0)),
            kill
        );
        // Loads past seccomp_data, or unaligned.
        assert_eq!(
            evaluate(&[insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, 64)], &data(0)),
            kill
        );
        assert_eq!(
            evaluate(&[insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, 2)], &data(0)),
            kill
        );
        // Jumps past the end.
        assert_eq!(evaluate(&[insn(BPF_JMP | BPF_JA, 0, 0, 5)], &data(0)), kill);
        assert_eq!(evaluate(&[], &data(0)), kill);
    }

    #[test]
    fn loads_words_little_endian() {
        let d = SeccompData {
            nr: 1,
            arch: 2,
            instruction_pointer: 0x0000_0004_0000_0003,
            args: [0x0000_0006_0000_0005, 0, 0, 0, 0, 0x0000_000c_0000_000b],
        };
        for (offset, want) in [
            (0, 1),
            (4, 2),
            (8, 3),
            (12, 4),
            (16, 5),
            (20, 6),
            (56, 11),
            (60, 12),
        ] {
            let prog = [
                insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, offset),
                insn(BPF_RET | BPF_A, 0, 0, 0),
            ];
            assert_eq!(evaluate(&prog, &d), want, "offset {offset}");
        }
    }
}
