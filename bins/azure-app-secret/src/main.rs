fn main() -> std::process::ExitCode {
    rotate_azure_app_secret::main()
}
