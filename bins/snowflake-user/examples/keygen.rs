//! How long the key-pair rotation's RSA 2048 key generation takes on this
//! machine, for `docs/development/performance.md`: `cargo run --release -p
//! rotate-snowflake-user --example keygen [RUNS]` prints the min, median and
//! max in milliseconds.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "an example that reports its measurement"
)]

use std::time::Instant;

use rotate_snowflake_user::jwt::PrivateKey;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20)
        .max(1);
    let mut ms: Vec<f64> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        if PrivateKey::generate().is_err() {
            eprintln!("the key could not be generated");
            std::process::exit(1);
        }
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "RSA 2048 generation, {runs} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms[0],
        ms[runs / 2],
        ms[runs - 1]
    );
}
