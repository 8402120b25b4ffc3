//! A tiny eBPF interpreter for the instructions the device filter uses, to test generated programs
//! without loading them into a kernel. It also does the verifier's basic checks that matter here:
//! jumps stay inside the program, and the program ends with exit.

use super::emulator::Emulator;
use super::program::*;
use super::{rules_from_oci, DevType, Perms};

/// Runs `prog` on a `bpf_cgroup_dev_ctx`; returns r0, or an error for anything malformed.
fn run(prog: &[Insn], access_type: u32, major: u32, minor: u32) -> Result<u64, String> {
    let mut ctx = [0u8; 12];
    ctx[0..4].copy_from_slice(&access_type.to_ne_bytes());
    ctx[4..8].copy_from_slice(&major.to_ne_bytes());
    ctx[8..12].copy_from_slice(&minor.to_ne_bytes());
    // r1 holds the context "pointer": model it as a tag, and only allow loads through it.
    let mut r = [0u64; 11];
    let mut is_ctx = [false; 11];
    is_ctx[1] = true;
    let mut pc: usize = 0;
    let mut steps = 0;
    loop {
        let i = *prog.get(pc).ok_or(format!("pc {pc} out of program"))?;
        steps += 1;
        if steps > 4096 {
            return Err("too many steps".into());
        }
        let (d, s) = (i.dst as usize, i.src as usize);
        if d > 10 || s > 10 {
            return Err(format!("bad register at {pc}"));
        }
        let mut next = pc + 1;
        match i.code {
            BPF_LDX_MEM_W => {
                if !is_ctx[s] {
                    return Err(format!("load through non-context register at {pc}"));
                }
                let off = i.off as usize;
                if off & 3 != 0 || off + 4 > ctx.len() {
                    return Err(format!("bad context offset {off} at {pc}"));
                }
                r[d] = u32::from_ne_bytes(ctx[off..off + 4].try_into().unwrap()) as u64;
                is_ctx[d] = false;
            }
            BPF_ALU32_AND_K => r[d] = ((r[d] as u32) & (i.imm as u32)) as u64,
            BPF_ALU32_RSH_K => r[d] = ((r[d] as u32) >> (i.imm as u32 & 31)) as u64,
            BPF_ALU32_MOV_K => {
                r[d] = i.imm as u32 as u64;
                is_ctx[d] = false;
            }
            BPF_ALU32_MOV_X => {
                r[d] = r[s] as u32 as u64;
                is_ctx[d] = false;
            }
            BPF_JNE_K | BPF_JNE_X => {
                let rhs = if i.code == BPF_JNE_K {
                    i.imm as i64 as u64
                } else {
                    r[s]
                };
                if r[d] != rhs {
                    let t = pc as i64 + 1 + i.off as i64;
                    if t < 0 || t as usize >= prog.len() {
                        return Err(format!("jump out of program at {pc}"));
                    }
                    next = t as usize;
                }
            }
            BPF_EXIT => return Ok(r[0]),
            c => return Err(format!("unsupported opcode {c:#x} at {pc}")),
        }
        pc = next;
    }
}

fn decide(prog: &[Insn], typ: DevType, major: u32, minor: u32, want: Perms) -> bool {
    let t = match typ {
        DevType::Block => BPF_DEVCG_DEV_BLOCK,
        DevType::Char => BPF_DEVCG_DEV_CHAR,
    } as u32;
    run(prog, t | ((want.0 as u32) << 16), major, minor).unwrap() == 1
}

fn build(devs: &[berth_oci::DeviceCgroup]) -> (Emulator, Vec<Insn>) {
    let mut emu = Emulator::default();
    for r in rules_from_oci(devs).unwrap() {
        emu.apply(&r).unwrap();
    }
    let prog = program::device_filter(&emu).unwrap();
    (emu, prog)
}

use super::program;

fn dev(
    allow: bool,
    typ: &str,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> berth_oci::DeviceCgroup {
    berth_oci::DeviceCgroup {
        allow,
        typ: Some(typ.into()),
        major,
        minor,
        access: Some(access.into()),
    }
}

#[test]
fn default_list_allows_std_nodes_and_denies_others() {
    let mut devs = vec![dev(false, "a", None, None, "rwm")];
    devs.extend(super::default_allowed_devices());
    let (_, prog) = build(&devs);
    let rw = Perms::parse("rw").unwrap();
    assert!(decide(&prog, DevType::Char, 1, 3, rw), "/dev/null");
    assert!(decide(&prog, DevType::Char, 136, 7, rw), "/dev/pts/7");
    assert!(decide(&prog, DevType::Char, 10, 200, rw), "/dev/net/tun");
    assert!(
        decide(&prog, DevType::Block, 8, 0, Perms::parse("m").unwrap()),
        "mknod any block"
    );
    assert!(
        !decide(&prog, DevType::Block, 8, 0, Perms::parse("r").unwrap()),
        "read /dev/sda"
    );
    assert!(
        !decide(&prog, DevType::Char, 1, 1, Perms::parse("r").unwrap()),
        "/dev/mem"
    );
    assert!(
        !decide(&prog, DevType::Char, 1, 1, Perms::parse("rm").unwrap()),
        "read+mknod /dev/mem"
    );
}

#[test]
fn blacklist_denies_only_listed() {
    let (_, prog) = build(&[
        dev(true, "a", None, None, "rwm"),
        dev(false, "b", Some(8), None, "w"),
    ]);
    assert!(!decide(&prog, DevType::Block, 8, 3, Perms::parse("w").unwrap()));
    assert!(decide(&prog, DevType::Block, 8, 3, Perms::parse("r").unwrap()));
    assert!(decide(&prog, DevType::Char, 8, 3, Perms::parse("w").unwrap()));
}

#[test]
fn interpreter_rejects_bad_programs() {
    let jump_out = [Insn {
        code: BPF_JNE_K,
        dst: 0,
        src: 0,
        off: 5,
        imm: 1,
    }];
    assert!(run(&jump_out, 0, 0, 0).is_err());
    let no_exit = [Insn {
        code: BPF_ALU32_MOV_K,
        dst: 0,
        src: 0,
        off: 0,
        imm: 1,
    }];
    assert!(run(&no_exit, 0, 0, 0).is_err());
}

/// Random rule sets: the program must decide exactly as the emulator's model of the rules, for
/// every access combination on a grid of devices around the rules' numbers.
#[test]
fn random_rule_sets_agree_with_the_emulator() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let types = ["a", "b", "c"];
    let accesses = ["r", "w", "m", "rw", "rm", "wm", "rwm"];
    let mut checked = 0;
    for _ in 0..300 {
        let mut devs = Vec::new();
        for _ in 0..(1 + rnd(6)) {
            let typ = types[rnd(3) as usize];
            let major = if rnd(4) == 0 { None } else { Some(rnd(4) as i64) };
            let minor = if rnd(4) == 0 { None } else { Some(rnd(4) as i64) };
            devs.push(dev(rnd(2) == 0, typ, major, minor, accesses[rnd(7) as usize]));
        }
        let mut emu = Emulator::default();
        let mut ok = true;
        for r in rules_from_oci(&devs).unwrap() {
            if emu.apply(&r).is_err() {
                ok = false; // a wildcard hole: refused before any program exists
                break;
            }
        }
        if !ok {
            continue;
        }
        let prog = program::device_filter(&emu).unwrap();
        for typ in [DevType::Block, DevType::Char] {
            for major in 0..5 {
                for minor in 0..5 {
                    for want in 1..8u8 {
                        let want = Perms(want);
                        assert_eq!(
                            decide(&prog, typ, major, minor, want),
                            emu.permits(typ, major, minor, want),
                            "rules {devs:?} on {typ:?} {major}:{minor} {want}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 10_000);
}
