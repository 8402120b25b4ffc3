//! `features`: what this runtime implements, in the runtime-spec features format.
// Ref: https://github.com/opencontainers/runtime-spec/blob/v1.2.0/features.md

use serde_json::{json, Value};

pub fn features() -> Value {
    let caps: Vec<&str> =
        crate::caps::NAMES[..=(crate::caps::last_cap() as usize).min(crate::caps::NAMES.len() - 1)].to_vec();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": berth_oci::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "lazytime", "loud",
            "mand", "noatime", "nodev", "nodiratime", "noexec", "nomand", "norelatime", "nostrictatime",
            "nosuid", "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave",
            "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid", "sync", "unbindable",
            "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime",
            "rdiratime", "rrelatime", "rnorelatime", "rnoatime", "ratime", "rstrictatime", "rnosymfollow",
            "rsymfollow", "tmpcopyup"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": berth_seccomp::ACTIONS,
                "operators": berth_seccomp::OPERATORS,
                "archs": berth_seccomp::ARCHITECTURES,
                "knownFlags": berth_seccomp::FLAGS,
                "supportedFlags": berth_seccomp::FLAGS
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "io.github.berth.runtime.version": env!("CARGO_PKG_VERSION")
        }
    })
}
