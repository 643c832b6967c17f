fn main() -> std::process::ExitCode {
    common::driver::main::<rotate_azure_app_secret::AzureAppSecret>()
}
