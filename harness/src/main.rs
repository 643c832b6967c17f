//! `harness`: encode scenarios and run the binaries end to end against the fakes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use harness::{Scenario, bench, demo};

#[derive(Debug, Parser)]
#[command(name = "harness", version, about = "The keeper-rotators test harness.")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the Gateway's base64 stdin line for a scenario file.
    Encode {
        /// A scenario JSON file (see fixtures/scenarios/).
        file: PathBuf,
        /// Set ${NAME} in the scenario, as NAME=VALUE.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Run a binary end to end against the local fakes and show what happened.
    Demo {
        use_case: UseCase,
        /// Directory holding the built binaries (default: next to this harness).
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<PathBuf>,
    },
    /// Measure a binary: start-up, end-to-end rotation time against the fakes,
    /// peak memory, size. Build with --release first for meaningful figures.
    Bench {
        use_case: UseCase,
        /// How many rotations (and as many start-ups) to time.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Directory holding the built binaries (default: next to this harness).
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum UseCase {
    RestApi,
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Encode { file, vars } => encode(&file, &vars).map(|line| {
            println!("{line}");
            true
        }),
        Command::Demo { use_case, bin_dir } => match use_case {
            UseCase::RestApi => demo::find_binary("rotate-rest-api", bin_dir.as_deref())
                .and_then(|bin| demo::rest_api(&bin))
                .map(|report| {
                    print!("{}", report.text);
                    println!("== demo {}", if report.ok { "succeeded" } else { "FAILED" });
                    report.ok
                }),
        },
        Command::Bench {
            use_case,
            runs,
            bin_dir,
        } => match use_case {
            UseCase::RestApi => demo::find_binary("rotate-rest-api", bin_dir.as_deref())
                .and_then(|bin| bench::rest_api(&bin, runs).map(|f| f.report(&bin)))
                .map(|report| {
                    print!("{report}");
                    true
                }),
        },
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("harness: {message}");
            ExitCode::from(2)
        }
    }
}

fn encode(file: &std::path::Path, vars: &[String]) -> Result<String, String> {
    let mut scenario = Scenario::from_file(file)?;
    for var in vars {
        let (name, value) = var
            .split_once('=')
            .ok_or_else(|| format!("--var {var}: expected NAME=VALUE"))?;
        scenario = scenario.var(name, value);
    }
    Ok(scenario.encode())
}
