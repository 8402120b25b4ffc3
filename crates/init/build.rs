//! Release builds of berth-init run without a C runtime (see src/main.rs): the binary brings
//! its own `_start`, so the C start files must not be linked. The cfg and the link argument are
//! emitted together so the two always agree.
//!
//! Keyed on the profile rather than on the panic strategy because Cargo gives build scripts the
//! target's default `cfg(panic)`, not the profile's; the workspace's release profile is
//! `panic = "abort"`, which the freestanding build needs.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(berth_freestanding)");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo::rustc-cfg=berth_freestanding");
        println!("cargo::rustc-link-arg-bins=-nostartfiles");
    }
}
