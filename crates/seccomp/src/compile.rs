//! From the OCI seccomp object to a BPF program.
//!
//! The compiler works in three steps:
//!
//! 1. **Rules**: each `syscalls[]` entry becomes a rule (its `SECCOMP_RET_*` value and argument
//!    conditions), after the checks and rewrites runc applies: rules whose action equals the default
//!    action are dropped, and a rule naming the same argument twice is split into one rule per
//!    condition.
//! 2. **Decisions**: for each architecture section (one per `AUDIT_ARCH_*`; x86_64 and x32 share
//!    one), every `u32` syscall number gets a decision: a constant verdict, or a list of conditional
//!    rules to try in order. Numbers no rule names get the default action, the runc `-ENOSYS` stub
//!    verdict, or the bad-architecture verdict, all of which are ranges of numbers; adjacent numbers
//!    with the same constant verdict are merged into one segment.
//! 3. **Code**: a binary search over the segment boundaries (`jge`), whose leaves are `ret`
//!    instructions or argument checks. A syscall is decided after `log2(segments)` comparisons.
//!
//! Program layout:
//!
//! ```text
//!     ld [arch]
//!     jeq #AUDIT_ARCH_<native>, section_0      ; one per section, native first
//!     jeq #AUDIT_ARCH_<other>, section_1
//!     ret #KILL_THREAD                          ; architecture not in the filter
//! section_0:
//!     ld [nr]
//!     jge #<boundary>, right ...                ; binary search, leaves below
//!     ret #<verdict>                            ; or: ld [args[i].hi]; jeq ...; ret #<verdict>
//! ```

use berth_oci::{Seccomp, SeccompAction, SeccompArch, SeccompOp};
use libc::{
    SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_TSYNC_ESRCH, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
};

use crate::arch::{self, ArchInfo, Numbers, Width, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::bpf::{Asm, BPF_JEQ, BPF_JGE, BPF_JGT, OFFSET_ARCH, OFFSET_ARGS, OFFSET_NR};
use crate::{Filter, SeccompError};

/// The verdict for a syscall from an architecture the filter does not list: libseccomp's default
/// bad-architecture action, `SCMP_ACT_KILL`, which is `SECCOMP_RET_KILL_THREAD`.
// Ref: libseccomp src/db.c db_col_reset(): col->attr.act_badarch = SCMP_ACT_KILL
pub(crate) const BAD_ARCH_RET: u32 = libc::SECCOMP_RET_KILL_THREAD;

/// runc answers `-ENOSYS` for syscalls newer than any the profile names, so that libc falls back
/// to an older syscall instead of failing on the profile's default `EPERM`.
// Ref: runc libcontainer/seccomp/patchbpf/enosys_linux.go
pub(crate) const ENOSYS_RET: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

/// Largest `errnoRet` representable in `SECCOMP_RET_DATA`.
const MAX_RET_DATA: u32 = libc::SECCOMP_RET_DATA;

/// Argument condition as written in the spec (`value`/`valueTwo` not yet interpreted).
#[derive(Debug, Clone, Copy)]
struct ArgCond {
    index: u8,
    op: SeccompOp,
    value: u64,
    value_two: u64,
}

/// A condition ready for code generation: for `MaskedEqual`, `(arg & mask) == value`; for the
/// other operators `arg <op> value`, with `mask` unused. On 32-bit ABIs both are truncated to the
/// low word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cond {
    index: u8,
    op: SeccompOp,
    value: u64,
    mask: u64,
}

impl ArgCond {
    /// `None` when the condition always holds, which libseccomp drops from the rule: a masked
    /// comparison with an empty mask.
    // Ref: libseccomp src/db.c _db_arg_cmp_need_lo()/_need_hi() and _db_node_mask_fixup(): the
    // datum is masked too, so MASKED_EQ compares (arg & mask) == (valueTwo & mask).
    fn normalize(self, width: Width) -> Option<Cond> {
        let (mut value, mut mask) = match self.op {
            SeccompOp::MaskedEqual => (self.value_two & self.value, self.value),
            _ => (self.value, u64::MAX),
        };
        if width == Width::W32 {
            value &= u64::from(u32::MAX);
            mask &= u64::from(u32::MAX);
        }
        if self.op == SeccompOp::MaskedEqual && mask == 0 {
            return None;
        }
        Some(Cond {
            index: self.index,
            op: self.op,
            value,
            mask,
        })
    }
}

struct Rule<'a> {
    /// The rule's syscalls, resolved on every architecture; names no table knows are gone.
    syscalls: &'a [&'static Numbers],
    ret: u32,
    conds: Vec<ArgCond>,
}

impl Rule<'_> {
    fn unconditional(&self, width: Width) -> bool {
        self.conds.iter().all(|c| c.normalize(width).is_none())
    }
}

/// All the architectures of the filter that share one `AUDIT_ARCH_*` value.
struct Section {
    audit: u32,
    members: Vec<ArchInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    /// Index into the section's conditional decisions.
    Check(usize),
}

/// Syscall numbers from `lo` up to the next segment's `lo` share one leaf.
#[derive(Debug, Clone, Copy)]
struct Segment {
    lo: u32,
    leaf: Leaf,
}

/// Conditional rules for one syscall: the first whose conditions all hold decides, else default.
struct Check {
    width: Width,
    rules: Vec<(u32, Vec<Cond>)>,
}

pub(crate) fn compile(spec: &Seccomp) -> Result<Filter, SeccompError> {
    let mut flags = parse_flags(&spec.flags)?;

    // Ref: runc libcontainer/seccomp/seccomp_linux.go InitSeccomp(): a NOTIFY default would send
    // the runtime's own write of the listener fd to the (not yet connected) agent.
    if spec.default_action == SeccompAction::Notify {
        return Err(SeccompError::NotifyDefault);
    }
    let default = action_ret(spec.default_action, spec.default_errno_ret)
        .ok_or(SeccompError::DefaultErrnoRet(spec.default_errno_ret.unwrap_or(0)))?;

    // Each name is looked up once, for all architectures. Names unknown everywhere are skipped,
    // as runc does with names libseccomp cannot resolve; Docker's profile lists syscalls of every
    // architecture.
    let resolved: Vec<Vec<&'static Numbers>> = spec
        .syscalls
        .iter()
        .map(|entry| entry.names.iter().filter_map(|n| arch::lookup(n)).collect())
        .collect();

    let mut rules = Vec::new();
    let mut notify = false;
    for (pos, (entry, syscalls)) in spec.syscalls.iter().zip(&resolved).enumerate() {
        if entry.names.iter().any(String::is_empty) {
            return Err(SeccompError::EmptyName { rule: pos });
        }
        let ret = action_ret(entry.action, entry.errno_ret).ok_or_else(|| SeccompError::ErrnoRet {
            syscall: describe(pos, &entry.names),
            value: entry.errno_ret.unwrap_or(0),
        })?;
        let mut conds = Vec::with_capacity(entry.args.len());
        let mut seen = 0u8;
        let mut repeated = false;
        for arg in &entry.args {
            let index =
                u8::try_from(arg.index)
                    .ok()
                    .filter(|i| *i < 6)
                    .ok_or_else(|| SeccompError::ArgIndex {
                        syscall: describe(pos, &entry.names),
                        index: arg.index,
                    })?;
            repeated |= seen & (1 << index) != 0;
            seen |= 1 << index;
            conds.push(ArgCond {
                index,
                op: arg.op,
                value: arg.value,
                value_two: arg.value_two,
            });
        }
        if entry.action == SeccompAction::Notify {
            // Ref: runc InitSeccomp(): the runtime writes the listener fd to its parent with
            // write(2) after installing the filter.
            if entry.names.iter().any(|n| n == "write") {
                return Err(SeccompError::NotifyWrite);
            }
            notify = true;
        }
        // Ref: runc matchCall(): "This rule is redundant, silently skip it" (libseccomp refuses a
        // rule whose action is the default action).
        if ret == default {
            continue;
        }
        if repeated {
            // Ref: runc matchCall(): libseccomp rejects two conditions on one argument, so runc
            // adds each condition as a rule of its own.
            rules.extend(conds.into_iter().map(|c| Rule {
                syscalls,
                ret,
                conds: vec![c],
            }));
        } else {
            rules.push(Rule { syscalls, ret, conds });
        }
    }

    // Ref: libseccomp src/system.c sys_filter_load(): TSYNC with a listener needs TSYNC_ESRCH to
    // tell a listener fd from a thread id, and WAIT_KILLABLE_RECV only applies to a listener.
    if notify {
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
        if flags & SECCOMP_FILTER_FLAG_TSYNC as u32 != 0 {
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH as u32;
        }
    } else {
        flags &= !(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV as u32);
    }

    let sections = sections(spec)?;

    // Ref: runc patchbpf generatePatch(): no stub when unknown syscalls are allowed anyway, or
    // when the default already is ENOSYS.
    let stub = !matches!(
        spec.default_action,
        SeccompAction::Allow | SeccompAction::Log | SeccompAction::Trace
    ) && default != ENOSYS_RET;

    let mut asm = Asm::default();
    asm.ld(OFFSET_ARCH);
    let entries: Vec<_> = sections.iter().map(|_| asm.label()).collect();
    for (section, &entry) in sections.iter().zip(&entries) {
        let next = asm.label();
        asm.jmp(BPF_JEQ, section.audit, entry, next);
        asm.bind(next);
    }
    asm.ret(BAD_ARCH_RET);
    for (section, &entry) in sections.iter().zip(&entries) {
        asm.bind(entry);
        asm.ld(OFFSET_NR);
        let (segments, checks) = decide(section, &resolved, &rules, default, stub);
        emit_tree(&mut asm, &segments, &checks, default);
    }

    let program = asm.finish();
    if program.len() > libc::BPF_MAXINSNS as usize {
        return Err(SeccompError::TooLong { len: program.len() });
    }
    Ok(Filter { program, flags })
}

fn parse_flags(names: &[String]) -> Result<u32, SeccompError> {
    let mut flags = 0;
    for name in names {
        flags |= match name.as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => SECCOMP_FILTER_FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => SECCOMP_FILTER_FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            other => return Err(SeccompError::UnknownFlag(other.to_string())),
        } as u32;
    }
    Ok(flags)
}

/// The `SECCOMP_RET_*` value of an action; `None` when `errno` does not fit `SECCOMP_RET_DATA`.
// Ref: runc getAction(): KILL is KILL_THREAD; ERRNO and TRACE default to EPERM.
fn action_ret(action: SeccompAction, errno: Option<u32>) -> Option<u32> {
    let data = || {
        let e = errno.unwrap_or(libc::EPERM as u32);
        (e <= MAX_RET_DATA).then_some(e)
    };
    Some(match action {
        SeccompAction::Kill | SeccompAction::KillThread => libc::SECCOMP_RET_KILL_THREAD,
        SeccompAction::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        SeccompAction::Trap => libc::SECCOMP_RET_TRAP,
        SeccompAction::Errno => libc::SECCOMP_RET_ERRNO | data()?,
        SeccompAction::Trace => libc::SECCOMP_RET_TRACE | data()?,
        SeccompAction::Allow => libc::SECCOMP_RET_ALLOW,
        SeccompAction::Log => libc::SECCOMP_RET_LOG,
        SeccompAction::Notify => libc::SECCOMP_RET_USER_NOTIF,
    })
}

/// Names a rule in an error message: by its first syscall, or by its position when it has none.
fn describe(pos: usize, names: &[String]) -> String {
    names
        .first()
        .cloned()
        .unwrap_or_else(|| format!("syscalls[{pos}]"))
}

/// The native architecture and the listed ones, grouped by `AUDIT_ARCH_*`, native first.
fn sections(spec: &Seccomp) -> Result<Vec<Section>, SeccompError> {
    let native = ArchInfo::get(arch::NATIVE).expect("the native architecture has a table");
    let mut archs = vec![native];
    for &a in &spec.architectures {
        if archs.iter().any(|i| i.arch == a) {
            continue;
        }
        match ArchInfo::get(a) {
            Some(info) => archs.push(info),
            None if arch::reachable_on_host(a) => {
                return Err(SeccompError::UnsupportedArch(arch::arch_name(a)));
            }
            // The kernel never reports this architecture here: leaving it out changes nothing.
            None => {}
        }
    }
    let mut sections: Vec<Section> = Vec::new();
    for info in archs {
        match sections.iter_mut().find(|s| s.audit == info.audit) {
            Some(s) => s.members.push(info),
            None => sections.push(Section {
                audit: info.audit,
                members: vec![info],
            }),
        }
    }
    Ok(sections)
}

/// Splits the syscall numbers of one section into segments of equal verdict.
fn decide(
    section: &Section,
    resolved: &[Vec<&'static Numbers>],
    rules: &[Rule<'_>],
    default: u32,
    stub: bool,
) -> (Vec<Segment>, Vec<Check>) {
    // The largest number the profile names, per architecture, counting every name of every entry
    // as runc does (including entries dropped for matching the default action). runc skips the
    // stub when that number is 0.
    // Ref: runc patchbpf findLastSyscalls()
    let stub_max = |info: &ArchInfo| -> Option<u32> {
        if !stub {
            return None;
        }
        resolved
            .iter()
            .flatten()
            .filter_map(|numbers| info.pick(numbers))
            .max()
            .filter(|m| *m != 0)
    };
    let pieces = fallback(section, default, stub_max);

    // (number, rule index, member index) packed into one integer, so that sorting is cheap and
    // yields number then rule order. A section has at most 2 members; a spec far fewer than 2^30
    // rules.
    let pack = |nr: u32, r: usize, m: usize| u64::from(nr) << 32 | (r as u64) << 2 | m as u64;
    let unpack = |h: u64| ((h >> 32) as u32, (h as u32 >> 2) as usize, (h & 3) as usize);
    let mut hits: Vec<u64> = Vec::new();
    for (m, info) in section.members.iter().enumerate() {
        for (r, rule) in rules.iter().enumerate() {
            // Syscalls that do not exist on this architecture are skipped.
            hits.extend(
                rule.syscalls
                    .iter()
                    .filter_map(|numbers| info.pick(numbers))
                    .map(|nr| pack(nr, r, m)),
            );
        }
    }
    hits.sort_unstable();
    hits.dedup();

    let mut explicit: Vec<(u32, Leaf)> = Vec::new();
    let mut checks = Vec::new();
    for group in hits.chunk_by(|a, b| a >> 32 == b >> 32) {
        let (nr, _, member) = unpack(group[0]);
        let width = section.members[member].width;
        let group_rules = group.iter().map(|&h| &rules[unpack(h).1]);
        // Ref: libseccomp src/db.c db_rule_add(): a syscall's first unconditional rule stands
        // against any later rule, and replaces the conditional rules added before it.
        let leaf = match group_rules.clone().find(|rule| rule.unconditional(width)) {
            Some(rule) => Leaf::Ret(rule.ret),
            None => {
                let conditional = group_rules
                    .map(|rule| {
                        let conds = rule.conds.iter().filter_map(|c| c.normalize(width));
                        (rule.ret, conds.collect())
                    })
                    .collect();
                checks.push(Check {
                    width,
                    rules: conditional,
                });
                Leaf::Check(checks.len() - 1)
            }
        };
        explicit.push((nr, leaf));
    }

    let mut bounds: Vec<u32> = pieces.iter().map(|p| p.0).collect();
    for &(nr, _) in &explicit {
        bounds.push(nr);
        if let Some(next) = nr.checked_add(1) {
            bounds.push(next);
        }
    }
    bounds.sort_unstable();
    bounds.dedup();

    let mut segments: Vec<Segment> = Vec::with_capacity(bounds.len());
    let mut next_explicit = explicit.iter().peekable();
    for lo in bounds {
        let leaf = match next_explicit.next_if(|e| e.0 == lo) {
            Some(&(_, leaf)) => leaf,
            None => {
                let piece = pieces.partition_point(|p| p.0 <= lo) - 1;
                Leaf::Ret(pieces[piece].1)
            }
        };
        match segments.last() {
            Some(last) if last.leaf == leaf && matches!(leaf, Leaf::Ret(_)) => {}
            _ => segments.push(Segment { lo, leaf }),
        }
    }
    (segments, checks)
}

/// The verdict for numbers no rule names, as (first number, verdict) pieces from 0 upwards.
///
/// runc's stub runs first and picks the x86_64 or x32 limit by bit 30 of the number alone; then
/// libseccomp's ABI check, which compares the whole number against `X32_SYSCALL_BIT`, sends the
/// other ABI's numbers to the bad-architecture action.
// Ref: runc patchbpf generateEnosysStub(); libseccomp src/gen_bpf.c _gen_bpf_arch() ("filter out
// x32", except the -1 a tracer uses to skip a syscall)
fn fallback(section: &Section, default: u32, stub_max: impl Fn(&ArchInfo) -> Option<u32>) -> Vec<(u32, u32)> {
    let mut bounds = vec![0u32];
    let verdict: Box<dyn Fn(u32) -> u32> = if section.audit == AUDIT_ARCH_X86_64 {
        let find = |a| section.members.iter().find(|m| m.arch == a);
        let (x86_64, x32) = (find(SeccompArch::X86_64), find(SeccompArch::X32));
        let (max_64, max_x32) = (x86_64.and_then(&stub_max), x32.and_then(&stub_max));
        let (has_64, has_x32) = (x86_64.is_some(), x32.is_some());
        // Where bit 30, the ABI check and the -1 special case change.
        bounds.extend([X32_SYSCALL_BIT, 0x8000_0000, 0xc000_0000, u32::MAX]);
        bounds.extend(
            [max_64, max_x32]
                .into_iter()
                .flatten()
                .filter_map(|m| m.checked_add(1)),
        );
        Box::new(move |nr: u32| {
            let limit = if nr & X32_SYSCALL_BIT != 0 {
                max_x32
            } else {
                max_64
            };
            if limit.is_some_and(|max| nr > max) {
                return ENOSYS_RET;
            }
            let x32_number = nr >= X32_SYSCALL_BIT;
            match (has_64, has_x32) {
                (true, false) if x32_number && nr != u32::MAX => BAD_ARCH_RET,
                (false, true) if !x32_number => BAD_ARCH_RET,
                _ => default,
            }
        })
    } else {
        let max = section.members.iter().filter_map(&stub_max).max();
        bounds.extend(max.and_then(|m| m.checked_add(1)));
        Box::new(move |nr: u32| {
            if max.is_some_and(|max| nr > max) {
                ENOSYS_RET
            } else {
                default
            }
        })
    };
    bounds.sort_unstable();
    bounds.dedup();
    let mut pieces: Vec<(u32, u32)> = Vec::with_capacity(bounds.len());
    for lo in bounds {
        let ret = verdict(lo);
        if pieces.last().is_none_or(|p| p.1 != ret) {
            pieces.push((lo, ret));
        }
    }
    pieces
}

/// Binary search over `segments` (the accumulator holds the syscall number).
fn emit_tree(asm: &mut Asm, segments: &[Segment], checks: &[Check], default: u32) {
    if let [only] = segments {
        match only.leaf {
            Leaf::Ret(ret) => asm.ret(ret),
            Leaf::Check(i) => emit_check(asm, &checks[i], default),
        }
        return;
    }
    let mid = segments.len() / 2;
    let (low, high) = (asm.label(), asm.label());
    asm.jmp(BPF_JGE, segments[mid].lo, high, low);
    asm.bind(low);
    emit_tree(asm, &segments[..mid], checks, default);
    asm.bind(high);
    emit_tree(asm, &segments[mid..], checks, default);
}

fn emit_check(asm: &mut Asm, check: &Check, default: u32) {
    for (ret, conds) in &check.rules {
        let next_rule = asm.label();
        for cond in conds {
            emit_cond(asm, *cond, check.width, next_rule);
        }
        asm.ret(*ret);
        asm.bind(next_rule);
    }
    asm.ret(default);
}

/// Falls through when `cond` holds, jumps to `fail` otherwise. 64-bit comparisons test the high
/// word, then the low word only when the high words are equal.
// Ref: libseccomp src/db.c _db_rule_gen_64() (the diagrams), _db_rule_gen_32()
fn emit_cond(asm: &mut Asm, cond: Cond, width: Width, fail: crate::bpf::Label) {
    let lo_off = OFFSET_ARGS + 8 * u32::from(cond.index);
    let hi_off = lo_off + 4;
    let (value_hi, value_lo) = ((cond.value >> 32) as u32, cond.value as u32);
    let pass = asm.label();
    let wide = width == Width::W64;

    match cond.op {
        SeccompOp::Equal | SeccompOp::NotEqual => {
            let (on_eq, on_ne) = if cond.op == SeccompOp::Equal {
                (pass, fail)
            } else {
                (fail, pass)
            };
            if wide {
                let low = asm.label();
                asm.ld(hi_off);
                asm.jmp(BPF_JEQ, value_hi, low, on_ne);
                asm.bind(low);
            }
            asm.ld(lo_off);
            asm.jmp(BPF_JEQ, value_lo, on_eq, on_ne);
        }
        SeccompOp::MaskedEqual => {
            let (mask_hi, mask_lo) = ((cond.mask >> 32) as u32, cond.mask as u32);
            // An empty half always matches: normalize() already dropped the all-empty case.
            if wide && mask_hi != 0 {
                let low = asm.label();
                asm.ld(hi_off);
                if mask_hi != u32::MAX {
                    asm.and(mask_hi);
                }
                asm.jmp(BPF_JEQ, value_hi, low, fail);
                asm.bind(low);
            }
            if mask_lo != 0 {
                asm.ld(lo_off);
                if mask_lo != u32::MAX {
                    asm.and(mask_lo);
                }
                asm.jmp(BPF_JEQ, value_lo, pass, fail);
            }
        }
        SeccompOp::GreaterThan | SeccompOp::GreaterOrEqual | SeccompOp::LessThan | SeccompOp::LessOrEqual => {
            let greater = matches!(cond.op, SeccompOp::GreaterThan | SeccompOp::GreaterOrEqual);
            // arg > value passes for GT/GE and fails for LT/LE; arg < value the other way round.
            let (above, below) = if greater { (pass, fail) } else { (fail, pass) };
            if wide {
                let (hi_not_above, low) = (asm.label(), asm.label());
                asm.ld(hi_off);
                asm.jmp(BPF_JGT, value_hi, above, hi_not_above);
                asm.bind(hi_not_above);
                asm.jmp(BPF_JEQ, value_hi, low, below);
                asm.bind(low);
            }
            asm.ld(lo_off);
            match cond.op {
                SeccompOp::GreaterThan => asm.jmp(BPF_JGT, value_lo, pass, fail),
                SeccompOp::GreaterOrEqual => asm.jmp(BPF_JGE, value_lo, pass, fail),
                SeccompOp::LessThan => asm.jmp(BPF_JGE, value_lo, fail, pass),
                _ => asm.jmp(BPF_JGT, value_lo, fail, pass),
            }
        }
    }
    asm.bind(pass);
}
