//! Compiles Docker's default profile and reports the program size and the compile time:
//! `cargo run --release -p berth-seccomp --example docker_profile [-- --disassemble]`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

fn main() {
    let spec = common::docker_profile(common::DOCKER_DEFAULT_CAPS);
    // The runtime compiles once per process: the first, cold compile is the one that counts.
    let start = Instant::now();
    let filter = berth_seccomp::compile(&spec).expect("Docker's profile compiles");
    let cold = start.elapsed();
    if std::env::args().any(|a| a == "--disassemble") {
        print!("{}", berth_seccomp::disassemble(filter.instructions()));
    }

    let rounds = 2000;
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(berth_seccomp::compile(std::hint::black_box(&spec)).unwrap());
    }
    let per_compile = start.elapsed() / rounds;
    println!(
        "Docker default profile ({} rules, architectures {:?}): {} instructions; \
         first compile {:?}, then {:?} per compile",
        spec.syscalls.len(),
        spec.architectures,
        filter.instructions().len(),
        cold,
        per_compile
    );
}
