//! How long the redactor takes per output line: the figures of docs/concepts/redaction.md.
//!
//! `cargo run --release -p keeper-rotators-common --example redact_bench`

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::Instant;

use common::secret::{self, MAX_SECRETS, Secret};

fn per_line(line: &str, rounds: u32) -> f64 {
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(secret::redact(std::hint::black_box(line)));
    }
    started.elapsed().as_secs_f64() / f64::from(rounds)
}

fn per_check(line: &str, rounds: u32) -> f64 {
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(secret::echoes_secret(std::hint::black_box(line)));
    }
    started.elapsed().as_secs_f64() / f64::from(rounds)
}

fn main() {
    let typical = " INFO changing the password of 'alice@example.com' with POST \
                   https://api.example.com/v1/users/alice%40example.com/password (attempt 1 of 4)"
        .repeat(2);
    let long = "an ordinary log line with %41 &amp; \\u0041 escapes and words ".repeat(170);

    let _kept: Vec<Secret> = (0..12)
        .map(|n| Secret::new(format!("Rand0m-Passw0rd-{n:04}-x!")))
        .collect();
    println!(
        "12 secrets: {} B line {:.1} µs, {} B line {:.1} µs",
        typical.len(),
        per_line(&typical, 20_000) * 1e6,
        long.len(),
        per_line(&long, 500) * 1e6
    );
    println!(
        "12 secrets, skeleton check of a shown field: {} B {:.1} µs, {} B {:.1} µs",
        typical.len(),
        per_check(&typical, 20_000) * 1e6,
        long.len(),
        per_check(&long, 500) * 1e6
    );

    secret::forget_all();
    for n in 0..MAX_SECRETS {
        secret::try_register(&format!("secret-value-number-{n:08}")).ok();
    }
    println!(
        "{MAX_SECRETS} secrets: {} B line {:.1} µs, {} B line {:.1} µs",
        typical.len(),
        per_line(&typical, 20_000) * 1e6,
        long.len(),
        per_line(&long, 500) * 1e6
    );
    println!(
        "{MAX_SECRETS} secrets, skeleton check of a shown field: {} B {:.1} µs, {} B {:.1} µs",
        typical.len(),
        per_check(&typical, 20_000) * 1e6,
        long.len(),
        per_check(&long, 500) * 1e6
    );
    let started = Instant::now();
    secret::forget_all();
    for n in 0..MAX_SECRETS {
        secret::try_register(&format!("secret-value-number-{n:08}")).ok();
    }
    println!(
        "registering {MAX_SECRETS} secrets of 27 characters: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}
