//! `harness`: encode scenarios and run the binaries end to end against the fakes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use harness::{Scenario, bench, demo};

#[derive(Debug, Parser)]
#[command(name = "harness", version = common::build_info::VERSION, about = "The keeper-rotators test harness.")]
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
    /// The fake Keeper vault, and record reads and writes through common::vault.
    Vault {
        #[command(subcommand)]
        command: VaultCommand,
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

#[derive(Debug, Subcommand)]
enum VaultCommand {
    /// Serve a fake vault until killed. Writes DIR/gateway-config.json, DIR/ca.pem,
    /// DIR/env (export it to point any binary at the fake) and DIR/records.json
    /// (rewritten after every update); prints the port.
    Serve {
        /// A JSON array of records: {"uid", "type", "title", "fields", "custom"}.
        #[arg(long, value_name = "FILE")]
        records: PathBuf,
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Read fields of a record with the KSM config named by KEEPER_GATEWAY_CONFIG
    /// (secrets are shown only as a fingerprint).
    Get {
        uid: String,
        #[arg(long = "field", value_name = "NAME")]
        fields: Vec<String>,
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Set custom fields of a record from stdin: [{"label", "value", "secret": bool}].
    Set {
        uid: String,
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum UseCase {
    RestApi,
    AwsAccessKey,
    AzureAppSecret,
    OktaUser,
}

impl UseCase {
    fn binary(self) -> &'static str {
        match self {
            Self::RestApi => "rotate-rest-api",
            Self::AwsAccessKey => "rotate-aws-access-key",
            Self::AzureAppSecret => "rotate-azure-app-secret",
            Self::OktaUser => "rotate-okta-user",
        }
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Encode { file, vars } => encode(&file, &vars).map(|line| {
            println!("{line}");
            true
        }),
        Command::Demo { use_case, bin_dir } => {
            demo::find_binary(use_case.binary(), bin_dir.as_deref())
                .and_then(|bin| match use_case {
                    UseCase::RestApi => demo::rest_api(&bin),
                    UseCase::AwsAccessKey => demo::aws_access_key(&bin),
                    UseCase::AzureAppSecret => demo::azure_app_secret(&bin),
                    UseCase::OktaUser => demo::okta_user(&bin),
                })
                .map(|report| {
                    print!("{}", report.text);
                    println!("== demo {}", if report.ok { "succeeded" } else { "FAILED" });
                    report.ok
                })
        }
        Command::Vault { command } => return vault(command),
        Command::Bench {
            use_case,
            runs,
            bin_dir,
        } => demo::find_binary(use_case.binary(), bin_dir.as_deref())
            .and_then(|bin| {
                match use_case {
                    UseCase::RestApi => bench::rest_api(&bin, runs),
                    UseCase::AwsAccessKey => bench::aws_access_key(&bin, runs),
                    UseCase::AzureAppSecret => bench::azure_app_secret(&bin, runs),
                    UseCase::OktaUser => bench::okta_user(&bin, runs),
                }
                .map(|f| f.report(&bin))
            })
            .map(|report| {
                print!("{report}");
                true
            }),
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

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn vault(command: VaultCommand) -> ExitCode {
    use std::time::Duration;
    if let Err(error) = common::cli::init_process("harness") {
        eprintln!("harness: {error}");
        return ExitCode::from(error.exit().code());
    }
    let result = match command {
        VaultCommand::Serve { records, dir, port } => {
            return match harness::vault_cli::serve(&records, &dir, port) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("harness: {message}");
                    ExitCode::from(2)
                }
            };
        }
        VaultCommand::Get {
            uid,
            fields,
            timeout,
        } => harness::vault_cli::get(&uid, &fields, Duration::from_secs(timeout)),
        VaultCommand::Set { uid, timeout } => {
            harness::vault_cli::set(&uid, Duration::from_secs(timeout))
        }
    };
    match result {
        Ok(text) => {
            print!("{}", common::secret::redact(&text));
            if !text.ends_with('\n') {
                println!();
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("harness: {}", common::secret::redact(&error.to_string()));
            ExitCode::from(error.exit().code())
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
