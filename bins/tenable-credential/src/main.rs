fn main() -> std::process::ExitCode {
    common::driver::main::<rotate_tenable_credential::TenableCredential>()
}
