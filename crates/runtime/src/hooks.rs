//! OCI hooks: run with the container's state on stdin, each with its own timeout.
// Ref: https://github.com/opencontainers/runtime-spec/blob/v1.2.0/config.md#posix-platform-hooks

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_oci::Hook;

use crate::error::{Error, Result};

/// Runs `hooks` of the phase `phase` in order; the first failure stops the phase and is returned.
pub fn run(phase: &str, hooks: &[Hook], state: &berth_oci::State) -> Result<()> {
    if hooks.is_empty() {
        return Ok(());
    }
    let state = serde_json::to_vec(state).map_err(|e| Error::msg(format!("cannot encode state: {e}")))?;
    for h in hooks {
        run_one(phase, h, &state)?;
    }
    Ok(())
}

/// Runs every hook of a phase whose failure must not stop the lifecycle (poststart, poststop),
/// returning the failures as warnings.
pub fn run_all(phase: &str, hooks: &[Hook], state: &berth_oci::State) -> Vec<Error> {
    let Ok(state) = serde_json::to_vec(state) else {
        return vec![];
    };
    hooks
        .iter()
        .filter_map(|h| run_one(phase, h, &state).err())
        .collect()
}

fn run_one(phase: &str, h: &Hook, state: &[u8]) -> Result<()> {
    let fail = |d: String| Error::new(format!("run {phase} hook"), &h.path).detail(d);
    let mut cmd = Command::new(&h.path);
    if let Some((argv0, rest)) = h.args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear()
        .envs(h.env.iter().filter_map(|e| e.split_once('=')));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin closes the pipe: EPIPE is not its failure.
        let _ = stdin.write_all(state);
    }
    let deadline = h
        .timeout
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(fail(e.to_string())),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("timed out after {} s", h.timeout.unwrap_or(0))));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let err = err.trim();
        return Err(fail(if err.is_empty() {
            status.to_string()
        } else {
            format!("{status}: {err}")
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> berth_oci::State {
        berth_oci::State {
            oci_version: "1.2.0".into(),
            id: "c1".into(),
            status: berth_oci::Status::Creating,
            pid: Some(42),
            bundle: "/b".into(),
            annotations: Default::default(),
        }
    }

    fn hook(script: &str, timeout: Option<i64>) -> Hook {
        Hook {
            path: "/bin/sh".into(),
            args: vec!["sh".into(), "-c".into(), script.into()],
            env: vec![],
            timeout,
        }
    }

    #[test]
    fn hook_reads_state_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        run(
            "prestart",
            &[hook(&format!("cat > {}", out.display()), None)],
            &state(),
        )
        .unwrap();
        let got: serde_json::Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
        assert_eq!(got["id"], "c1");
        assert_eq!(got["pid"], 42);
    }

    #[test]
    fn failing_hook_names_itself_and_its_stderr() {
        let e = run("createRuntime", &[hook("echo boom >&2; exit 3", None)], &state()).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("createRuntime hook `/bin/sh`") && s.contains("boom"),
            "{s}"
        );
    }

    #[test]
    fn timeout_kills_hook() {
        let t = Instant::now();
        let e = run("prestart", &[hook("sleep 5", Some(1))], &state()).unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
    }
}
