//! Precedence, flags, actions and errors.
#![cfg(target_arch = "x86_64")]

mod common;

use berth_oci::{Seccomp, SeccompAction, SeccompArch, SeccompArg, SeccompOp, SeccompSyscall};
use berth_seccomp::{compile, SeccompError};
use common::*;

fn spec(default_action: SeccompAction, syscalls: Vec<SeccompSyscall>) -> Seccomp {
    Seccomp {
        default_action,
        default_errno_ret: None,
        architectures: Vec::new(),
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls,
    }
}

fn rule(name: &str, action: SeccompAction, errno_ret: Option<u32>, args: Vec<SeccompArg>) -> SeccompSyscall {
    SeccompSyscall {
        names: vec![name.to_string()],
        action,
        errno_ret,
        args,
    }
}

fn arg(index: u32, op: SeccompOp, value: u64) -> SeccompArg {
    SeccompArg {
        index,
        value,
        value_two: 0,
        op,
    }
}

fn eval(spec: &Seccomp, name: &str, args: [u64; 6]) -> u32 {
    compile(spec).unwrap().evaluate(&data(NATIVE, name, args))
}

#[test]
fn actions_and_errno_values() {
    use SeccompAction::*;
    let cases = [
        (Kill, None, KILL_THREAD),
        (KillThread, None, KILL_THREAD),
        (KillProcess, None, KILL_PROCESS),
        (Trap, None, libc::SECCOMP_RET_TRAP),
        (Errno, None, errno(libc::EPERM)),
        (Errno, Some(0), errno(0)),
        (Errno, Some(38), errno(38)),
        (Errno, Some(0xffff), errno(0xffff)),
        (Trace, None, libc::SECCOMP_RET_TRACE | libc::EPERM as u32),
        (Trace, Some(7), libc::SECCOMP_RET_TRACE | 7),
        (Log, None, libc::SECCOMP_RET_LOG),
        (Notify, None, libc::SECCOMP_RET_USER_NOTIF),
    ];
    for (action, errno_ret, want) in cases {
        let s = spec(Allow, vec![rule("getppid", action, errno_ret, vec![])]);
        assert_eq!(eval(&s, "getppid", [0; 6]), want, "{action:?} {errno_ret:?}");
        assert_eq!(eval(&s, "getpid", [0; 6]), ALLOW);
    }
    let mut s = spec(Errno, vec![rule("getppid", Allow, None, vec![])]);
    s.default_errno_ret = Some(13);
    assert_eq!(eval(&s, "getpid", [0; 6]), errno(13));
}

#[test]
fn notify_adds_the_listener_flag() {
    let s = spec(
        SeccompAction::Allow,
        vec![rule("getppid", SeccompAction::Notify, None, vec![])],
    );
    let f = compile(&s).unwrap();
    assert_eq!(f.flags(), libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32);

    let mut s = s;
    s.flags = vec![
        "SECCOMP_FILTER_FLAG_TSYNC".into(),
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV".into(),
    ];
    let want = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
        | libc::SECCOMP_FILTER_FLAG_TSYNC
        | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH
        | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    assert_eq!(compile(&s).unwrap().flags(), want as u32);
}

#[test]
fn flags() {
    let mut s = spec(SeccompAction::Allow, vec![]);
    s.flags = berth_seccomp::FLAGS.iter().map(|f| f.to_string()).collect();
    // WAIT_KILLABLE_RECV only means something with a listener: dropped, as libseccomp does.
    let want = libc::SECCOMP_FILTER_FLAG_TSYNC
        | libc::SECCOMP_FILTER_FLAG_LOG
        | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    assert_eq!(compile(&s).unwrap().flags(), want as u32);

    s.flags = vec![
        "SECCOMP_FILTER_FLAG_LOG".into(),
        "SECCOMP_FILTER_FLAG_BOGUS".into(),
    ];
    let err = compile(&s).unwrap_err();
    assert!(matches!(err, SeccompError::UnknownFlag(_)));
    assert_eq!(
        err.to_string(),
        "unknown seccomp flag `SECCOMP_FILTER_FLAG_BOGUS`"
    );
}

#[test]
fn errors_name_their_operand() {
    use SeccompAction::*;
    let s = spec(
        Allow,
        vec![rule("openat", Errno, None, vec![arg(7, SeccompOp::Equal, 0)])],
    );
    assert_eq!(
        compile(&s).unwrap_err().to_string(),
        "syscall `openat`: argument index 7 out of range (0 to 5)"
    );
    let s = spec(Allow, vec![rule("openat", Errno, Some(70000), vec![])]);
    assert_eq!(
        compile(&s).unwrap_err().to_string(),
        "syscall `openat`: errnoRet 70000 out of range (0 to 65535)"
    );
    let mut s = spec(Errno, vec![]);
    s.default_errno_ret = Some(1 << 20);
    assert_eq!(
        compile(&s).unwrap_err().to_string(),
        "defaultErrnoRet 1048576 out of range (0 to 65535)"
    );
    assert!(matches!(
        compile(&spec(Notify, vec![])),
        Err(SeccompError::NotifyDefault)
    ));
    let s = spec(Allow, vec![rule("write", Notify, None, vec![])]);
    assert!(matches!(compile(&s), Err(SeccompError::NotifyWrite)));
    let s = spec(Allow, vec![rule("", Errno, None, vec![])]);
    assert_eq!(
        compile(&s).unwrap_err().to_string(),
        "seccomp rule syscalls[0] has an empty syscall name"
    );
    // ARM syscalls cannot reach an x86_64 host, so ARM is ignored rather than refused...
    let mut s = spec(Allow, vec![]);
    s.architectures = vec![SeccompArch::Arm, SeccompArch::S390x];
    assert!(compile(&s).is_ok());
}

#[test]
fn unknown_names_are_skipped() {
    let s = spec(
        SeccompAction::Errno,
        vec![SeccompSyscall {
            names: vec!["no_such_syscall".into(), "getpid".into(), "chown32".into()],
            action: SeccompAction::Allow,
            errno_ret: None,
            args: vec![],
        }],
    );
    assert_eq!(eval(&s, "getpid", [0; 6]), ALLOW);
    assert_eq!(eval(&s, "read", [0; 6]), errno(libc::EPERM));
    // Above the largest syscall the profile names: runc's ENOSYS stub.
    assert_eq!(eval(&s, "getppid", [0; 6]), errno(libc::ENOSYS));
}

#[test]
fn unconditional_rule_wins_over_conditional_ones() {
    use SeccompAction::*;
    // libseccomp: an unconditional rule replaces the conditional rules added before it...
    let s = spec(
        Allow,
        vec![
            rule("kill", Errno, Some(1), vec![arg(1, SeccompOp::Equal, 9)]),
            rule("kill", Errno, Some(2), vec![]),
        ],
    );
    assert_eq!(eval(&s, "kill", [0, 9, 0, 0, 0, 0]), errno(2));
    assert_eq!(eval(&s, "kill", [0, 1, 0, 0, 0, 0]), errno(2));
    // ...and stands against the ones added after it.
    let s = spec(
        Allow,
        vec![
            rule("kill", Errno, Some(2), vec![]),
            rule("kill", Errno, Some(1), vec![arg(1, SeccompOp::Equal, 9)]),
            rule("kill", Errno, Some(3), vec![]),
        ],
    );
    assert_eq!(eval(&s, "kill", [0, 9, 0, 0, 0, 0]), errno(2));
}

#[test]
fn conditional_rules_first_match_wins() {
    use SeccompAction::*;
    let s = spec(
        Allow,
        vec![
            rule("kill", Errno, Some(1), vec![arg(1, SeccompOp::GreaterThan, 5)]),
            rule("kill", Errno, Some(2), vec![arg(1, SeccompOp::GreaterThan, 10)]),
            rule("kill", Errno, Some(3), vec![arg(0, SeccompOp::Equal, 0)]),
        ],
    );
    assert_eq!(eval(&s, "kill", [0, 11, 0, 0, 0, 0]), errno(1));
    assert_eq!(eval(&s, "kill", [0, 3, 0, 0, 0, 0]), errno(3));
    assert_eq!(eval(&s, "kill", [1, 3, 0, 0, 0, 0]), ALLOW);
}

#[test]
fn conditions_of_a_rule_are_anded_unless_they_repeat_an_argument() {
    use SeccompAction::*;
    let and = spec(
        Allow,
        vec![rule(
            "kill",
            Errno,
            None,
            vec![arg(0, SeccompOp::Equal, 1), arg(1, SeccompOp::Equal, 9)],
        )],
    );
    assert_eq!(eval(&and, "kill", [1, 9, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(eval(&and, "kill", [1, 8, 0, 0, 0, 0]), ALLOW);
    assert_eq!(eval(&and, "kill", [2, 9, 0, 0, 0, 0]), ALLOW);
    // runc: two conditions on one argument become two rules.
    let or = spec(
        Allow,
        vec![rule(
            "kill",
            Errno,
            None,
            vec![arg(1, SeccompOp::Equal, 9), arg(1, SeccompOp::Equal, 15)],
        )],
    );
    assert_eq!(eval(&or, "kill", [0, 9, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(eval(&or, "kill", [0, 15, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(eval(&or, "kill", [0, 2, 0, 0, 0, 0]), ALLOW);
}

#[test]
fn rules_with_the_default_action_are_dropped() {
    use SeccompAction::*;
    // The ERRNO(EPERM) rule equals the default and is skipped (runc), so the unconditional rule
    // does not override the conditional ALLOW.
    let mut s = spec(
        Errno,
        vec![
            rule("kill", Allow, None, vec![arg(1, SeccompOp::Equal, 0)]),
            rule("kill", Errno, None, vec![]),
        ],
    );
    s.default_errno_ret = Some(libc::EPERM as u32);
    assert_eq!(eval(&s, "kill", [0, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(eval(&s, "kill", [0, 1, 0, 0, 0, 0]), errno(libc::EPERM));
    // A different errno is a different action.
    let s = spec(
        Errno,
        vec![
            rule("kill", Allow, None, vec![arg(1, SeccompOp::Equal, 0)]),
            rule("kill", Errno, Some(38), vec![]),
        ],
    );
    assert_eq!(eval(&s, "kill", [0, 0, 0, 0, 0, 0]), errno(38));
}

#[test]
fn empty_profile_compiles() {
    let f = compile(&spec(SeccompAction::Allow, vec![])).unwrap();
    assert!(f.instructions().len() < 10, "{f:?}");
    assert_eq!(f.evaluate(&data(NATIVE, "read", [0; 6])), ALLOW);
    let f = compile(&spec(SeccompAction::KillProcess, vec![])).unwrap();
    assert_eq!(f.evaluate(&data(NATIVE, "read", [0; 6])), KILL_PROCESS);
}

#[test]
fn feature_lists() {
    assert_eq!(berth_seccomp::ACTIONS.len(), 9);
    assert_eq!(berth_seccomp::OPERATORS.len(), 7);
    for arch in berth_seccomp::ARCHITECTURES {
        let parsed: SeccompArch = serde_json::from_value(serde_json::json!(arch)).unwrap();
        assert!(berth_seccomp::audit_arch(parsed).is_some(), "{arch}");
    }
    for action in berth_seccomp::ACTIONS {
        let _: SeccompAction = serde_json::from_value(serde_json::json!(action)).unwrap();
    }
    for op in berth_seccomp::OPERATORS {
        let _: SeccompOp = serde_json::from_value(serde_json::json!(op)).unwrap();
    }
}
